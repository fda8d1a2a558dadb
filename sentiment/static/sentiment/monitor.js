// The model monitor: traffic per time bucket, the confidence distribution and the length bins, live against
// the served model's test reviews. The figures are the server's (monitor-charts); this file only draws them.
(function () {
  const data = JSON.parse(document.getElementById("monitor-charts").textContent);
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  charts.bars(document.getElementById("traffic-chart"), {
    labels: data.traffic.map((b) => time(b.at)),
    series: [
      { name: "answers", values: data.traffic.map((b) => b.answers) },
      { name: "not answered", values: data.traffic.map((b) => b.failures) },
    ],
    yLabel: "reviews",
  });
  charts.bars(document.getElementById("confidence-chart"), {
    labels: data.confidence.labels,
    series: [
      { name: "live", values: data.confidence.live },
      { name: "test reviews", values: data.confidence.test },
    ],
    xLabel: "confidence",
    yLabel: "share of answers",
    percent: true,
  });
  const length = data.drift.find((s) => s.name === "words");
  const canvas = document.getElementById("length-chart");
  if (length && canvas) {
    const edges = length.edges.map((e) => Math.round(e));
    const labels = length.reference_shares.map((_, i) =>
      i === 0 ? `< ${edges[0]}` : i === edges.length ? `≥ ${edges[i - 1]}` : `${edges[i - 1]}–${edges[i]}`);
    charts.bars(canvas, {
      labels,
      series: [
        { name: "live", values: length.live_shares },
        { name: "test reviews", values: length.reference_shares },
      ],
      xLabel: "words",
      yLabel: "share of answers",
      percent: true,
    });
  }
})();
