// The compare page: one validation curve per run, on one chart; accuracy from 40% (or the lowest point) to 100%,
// as on the run page, so that runs of one epoch each are points in the chart, not at its corners.
(function () {
  const curves = JSON.parse(document.getElementById("compare-curves").textContent);
  const scores = curves.flatMap((c) => c.points.map(([, y]) => y)).filter(Number.isFinite);
  charts.line(document.getElementById("compare-chart"), {
    series: curves.map((c) => ({ name: c.name, points: c.points, dots: true })),
    xLabel: "epoch",
    yLabel: "validation accuracy",
    yRange: [Math.floor(Math.min(0.4, ...scores) * 10) / 10, 1],
    percent: true,
  });
})();
