// A data set's preview: the histogram of its reviews' lengths (the bins come from the page, as JSON).
(function () {
  const bars = JSON.parse(document.getElementById("length-bars").textContent);
  charts.bars(document.getElementById("length-chart"), {
    labels: bars.map((b) => b.label),
    values: bars.map((b) => b.count),
    name: "reviews",
    xLabel: "words",
    yLabel: "reviews",
  });
})();
