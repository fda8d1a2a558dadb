// The compare page: one validation curve per run, on one chart.
(function () {
  const curves = JSON.parse(document.getElementById("compare-curves").textContent);
  charts.line(document.getElementById("compare-chart"), {
    series: curves.map((c) => ({ name: c.name, points: c.points, dots: true })),
    xLabel: "epoch",
    yLabel: "validation accuracy",
    percent: true,
  });
})();
