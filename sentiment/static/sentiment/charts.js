// A small SVG line chart: enough for loss and accuracy curves, no dependency to load.
window.lineChart = function (svg, series, options) {
  const W = 420, H = 200, L = 48, R = 10, T = 10, B = 28;
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const points = series.flatMap((s) => s.points);
  const el = (name, attrs, text) => {
    const node = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.appendChild(node);
    return node;
  };
  if (!points.length) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "no data yet");
    return;
  }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = options && options.yRange ? options.yRange : [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" });
  el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" });
  const fmt = (v) => (Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(1) : +v.toFixed(3));
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    el("text", { x: L - 4, y: sy(v) + 4, "text-anchor": "end", class: "tick" }, fmt(v));
  }
  el("text", { x: L, y: H - 8, class: "tick" }, Math.round(x0));
  el("text", { x: W - R, y: H - 8, "text-anchor": "end", class: "tick" }, `${Math.round(x1)} ${options.xLabel || ""}`);
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    el("path", { d, class: `series s${i}` });
    s.points.forEach((p) => { if (s.dots) el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3, class: `dot s${i}` }); });
    el("text", { x: W - R - 4, y: T + 12 + 14 * i, "text-anchor": "end", class: `legend s${i}` }, s.name);
  });
};
