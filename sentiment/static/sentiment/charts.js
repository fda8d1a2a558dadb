// The site's charts, drawn by Chart.js (vendor/chart.umd.min.js, loaded before this file).
// Pages call only window.charts, so the look (palette, fonts, number formats, empty state) lives here
// once, and a call on a canvas that already has a chart updates it in place: the run page polls.
(function () {
  const css = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  // The palette is style.css's (--chart-1 … --chart-6); point shapes tell series apart without colour.
  const SHAPES = ["circle", "rect", "triangle", "rectRot", "star", "crossRot"];
  const bodyFont = () => getComputedStyle(document.body).fontFamily || "sans-serif";
  const withAlpha = (color, alpha) => {
    const hex = /^#([0-9a-f]{6})$/i.exec(color);
    if (!hex) return color;
    const n = parseInt(hex[1], 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  };
  const seriesStyle = (i) => ({ color: css(`--chart-${(i % SHAPES.length) + 1}`, "#555"), shape: SHAPES[i % SHAPES.length] });

  // 6e-5 not 0.00006; 0.693 not 0.6931472; 1,250 not 1250.
  function formatNumber(v, decimals = 3) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "—";
    if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(2).replace(/\.?0+e/, "e");
    if (Math.abs(v) >= 1000 || Number.isInteger(v)) return Math.round(v).toLocaleString("en");
    return v.toFixed(decimals);
  }
  const formatPercent = (v, decimals = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(decimals)}%` : "—");

  // Tick labels: percentages without needless zeros, small numbers in exponent notation, else Chart.js's own.
  function tickFormatter(percent) {
    return function (value, index, ticks) {
      if (percent) return `${+(value * 100).toFixed(2)}%`;
      const largest = Math.max(...ticks.map((t) => Math.abs(t.value)));
      if (largest > 0 && largest < 0.01) return value === 0 ? "0" : value.toExponential(2).replace(/\.?0+e/, "e");
      return Chart.Ticks.formatters.numeric.call(this, value, index, ticks);
    };
  }

  // Chart.js draws nothing at all without data; say so on the canvas instead.
  const emptyState = {
    id: "emptyState",
    afterDraw(chart) {
      if (!chart.$charts || !chart.$charts.empty) return;
      const { ctx, chartArea: a } = chart;
      ctx.save();
      ctx.font = `13px ${bodyFont()}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      const [x, y, text] = [(a.left + a.right) / 2, (a.top + a.bottom) / 2, "no data yet"];
      const w = ctx.measureText(text).width + 16;
      ctx.fillStyle = "#fff"; // over the reliability diagram's diagonal
      ctx.fillRect(x - w / 2, y - 11, w, 22);
      ctx.fillStyle = css("--muted", "#666");
      ctx.fillText(text, x, y);
      ctx.restore();
    },
  };

  function axis(title, { percent = false, empty = false } = {}) {
    return {
      type: "linear",
      title: { display: Boolean(title), text: title || "", color: css("--muted", "#666") },
      ticks: { display: !empty, color: css("--muted", "#666"), callback: tickFormatter(percent), maxRotation: 0 },
      grid: { display: !empty, color: css("--line", "#e4e7ec") },
      border: { color: css("--chart-axis", "#98a2b3") },
    };
  }

  function baseOptions() {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false, // the .chart-box around the canvas has the aspect ratio, in style.css
      parsing: false,
      normalized: true,
      color: css("--fg", "#222"),
      layout: { padding: { top: 2, right: 8 } },
      plugins: {
        legend: { position: "top", align: "end", labels: { usePointStyle: true, boxWidth: 8, boxHeight: 8, padding: 10 } },
        tooltip: { backgroundColor: "rgba(29, 35, 48, 0.92)", padding: 8, caretPadding: 6, cornerRadius: 4 },
      },
    };
  }

  // The chart on this canvas if it was made by `kind`; any other chart there is replaced.
  function existing(canvas, kind) {
    const chart = Chart.getChart(canvas);
    if (chart && chart.$charts && chart.$charts.kind === kind) return chart;
    if (chart) chart.destroy();
    box(canvas);
    return null;
  }

  const canvasElement = (canvas) => (typeof canvas === "string" ? document.getElementById(canvas) : canvas);

  // Chart.js sizes a responsive canvas from its parent, so the parent must get its size from the page
  // and not from the canvas, or the chart can shrink but never grow back: a div.chart-box (style.css
  // gives it the aspect ratio). Pages may write it around the canvas; otherwise it is added here.
  function box(canvas) {
    if (canvas.parentNode.classList.contains("chart-box")) return;
    const div = document.createElement("div");
    div.className = "chart-box";
    canvas.replaceWith(div);
    div.appendChild(canvas);
  }

  // Keeps the dataset objects (and with them what the legend has hidden) and replaces their contents.
  function setDatasets(chart, datasets) {
    const current = chart.data.datasets;
    datasets.forEach((d, i) => {
      if (current[i]) {
        for (const key of Object.keys(current[i])) if (!(key in d)) delete current[i][key];
        Object.assign(current[i], d);
      } else current.push(d);
    });
    current.length = datasets.length;
  }

  // The axis around a series' values: a lone value (one point, or a flat line) in the middle of a range
  // around it instead of Chart.js's -1…1 or its min = max at the chart's corners.
  function around(values) {
    const finite = values.filter(Number.isFinite);
    if (!finite.length) return null;
    const [lo, hi] = [Math.min(...finite), Math.max(...finite)];
    if (hi > lo) return null;
    const pad = lo === 0 ? 1 : Math.abs(lo);
    return lo >= 0 ? [0, lo + pad] : [lo - pad, lo + pad];
  }

  function line(canvasOrId, { series = [], xLabel = "", yLabel = "", yRange = null, yMin = null, percent = false } = {}) {
    const datasets = series.map((s, i) => {
      const { color, shape } = seriesStyle(i);
      const data = (s.points || []).map(([x, y]) => ({ x, y: y === null || y === undefined ? null : y }));
      const dots = Boolean(s.dots) || data.length === 1; // a lone point is invisible without its dot
      return {
        type: "line", label: s.name, data, borderColor: color, backgroundColor: color, borderWidth: 2,
        // hollow dots: where two series meet (accuracy and F1) both shapes still show
        pointStyle: shape, pointRadius: dots ? 3.5 : 0, pointBackgroundColor: "#fff", pointBorderWidth: 1.5,
        pointHoverRadius: 5, pointHoverBackgroundColor: color, pointHitRadius: 6, tension: 0,
        spanGaps: true, clip: 6, // a point on the axis's end (100%) is drawn whole
      };
    });
    const points = datasets.flatMap((d) => d.data);
    const empty = !points.some((p) => Number.isFinite(p.y));
    const allIntegers = points.every((p) => Number.isInteger(p.x));
    const formatY = (v) => (percent ? formatPercent(v) : formatNumber(v));
    const x = axis(xLabel, { empty });
    x.ticks.precision = allIntegers ? 0 : undefined;
    Object.assign(x, { beginAtZero: true, bounds: "data" }); // steps start at 0; the axis ends at the data
    const lone = around(points.map((p) => p.x)); // one step or one epoch: in the middle, not at the edge
    if (lone) [x.min, x.max] = [0, lone[1]];
    const y = axis(yLabel, { percent, empty });
    if (yRange) [y.min, y.max] = yRange;
    else {
      const flat = around(points.map((p) => p.y));
      if (flat) [y.min, y.max] = [yMin === null ? flat[0] : yMin, flat[1]];
      else if (yMin !== null) y.min = yMin;
      y.grace = "5%"; // room above the highest point
    }

    const canvas = canvasElement(canvasOrId);
    let chart = existing(canvas, "line");
    if (!chart) {
      const options = baseOptions();
      options.interaction = { mode: "nearest", axis: "x", intersect: false };
      // the legend shows a line for a plain series and its dot's shape for a series with dots
      options.plugins.legend.labels.generateLabels = (c) =>
        Chart.defaults.plugins.legend.labels.generateLabels(c).map((item) => {
          const d = c.data.datasets[item.datasetIndex];
          return d.pointRadius ? item : { ...item, pointStyle: "line", strokeStyle: d.borderColor, lineWidth: 2.5 };
        });
      chart = new Chart(canvas, { type: "line", data: { datasets: [] }, options, plugins: [emptyState] });
    }
    chart.$charts = { kind: "line", empty };
    setDatasets(chart, datasets);
    const options = chart.config.options; // the plain object: mutated in place, read again by update()
    Object.assign(options.scales, { x, y });
    options.plugins.tooltip.callbacks = {
      title: (items) => (items.length ? `${xLabel || "x"}: ${formatNumber(items[0].parsed.x)}` : ""),
      label: (item) => ` ${item.dataset.label}: ${formatY(item.parsed.y)}`,
      labelColor: (item) => ({ borderColor: item.dataset.borderColor, backgroundColor: item.dataset.borderColor }),
    };
    chart.update("none");
    return chart;
  }

  // Chart.js sizes bars on a linear axis from the spacing of the data; make each as wide as its bin
  // instead (the scales are laid out by now, and the dataset options are read right after this).
  const binWidth = {
    id: "binWidth",
    beforeDatasetsUpdate(chart) {
      const scale = chart.scales.x;
      const width = chart.$charts && chart.$charts.binWidth;
      if (!scale || !Number.isFinite(width)) return;
      const px = Math.abs(scale.getPixelForValue(scale.min + width) - scale.getPixelForValue(scale.min));
      chart.data.datasets[0].barThickness = Math.max(1, px);
    },
  };

  // Bars of accuracy per confidence bin, each as wide as its bin, against the diagonal a perfectly
  // calibrated model would follow; the tooltip gives the bin's numbers.
  function reliability(canvasOrId, { bins = [], ece = null } = {}) {
    const shown = bins.filter((b) => b.count > 0);
    const lo = bins.length ? Math.min(...bins.map((b) => b.low)) : 0;
    const hi = bins.length ? Math.max(...bins.map((b) => b.high)) : 1;
    const accent = seriesStyle(0).color;
    const bars = {
      type: "bar", label: "accuracy in the bin",
      data: shown.map((b) => ({ x: (b.low + b.high) / 2, y: b.accuracy, bin: b })),
      backgroundColor: withAlpha(accent, 0.55), borderColor: accent, borderWidth: 1,
      grouped: false, pointStyle: "rect",
    };
    const diagonal = {
      type: "line", label: "perfectly calibrated", reference: true,
      data: [{ x: lo, y: lo }, { x: hi, y: hi }],
      borderColor: css("--muted", "#666"), backgroundColor: css("--muted", "#666"), borderWidth: 1.5, borderDash: [6, 4],
      pointStyle: "line", pointRadius: 0, pointHoverRadius: 0, pointHitRadius: 0,
    };
    const empty = !shown.length;
    const x = axis("confidence (probability given to the predicted label)", { empty });
    Object.assign(x, { min: lo, max: hi, offset: false });
    x.grid.offset = false;
    const y = axis("accuracy (share predicted right)", { empty });
    Object.assign(y, { min: 0, max: 1 });

    const canvas = canvasElement(canvasOrId);
    let chart = existing(canvas, "reliability");
    if (!chart) {
      const options = baseOptions();
      options.interaction = { mode: "x", intersect: false };
      options.plugins.tooltip.filter = (item) => !item.dataset.reference;
      options.plugins.tooltip.callbacks = {
        title: (items) => {
          const b = items[0].raw.bin;
          return `confidence ${b.low.toFixed(2)}–${b.high.toFixed(2)}`;
        },
        label: (item) => {
          const b = item.raw.bin;
          return [
            ` mean confidence: ${b.confidence.toFixed(3)}`,
            ` accuracy: ${b.accuracy.toFixed(3)}`,
            ` reviews: ${b.count.toLocaleString("en")}`,
          ];
        },
      };
      options.plugins.subtitle = { display: true, align: "start", color: css("--muted", "#666"), padding: { bottom: 4 } };
      chart = new Chart(canvas, { type: "bar", data: { datasets: [] }, options, plugins: [emptyState, binWidth] });
    }
    chart.$charts = { kind: "reliability", empty, binWidth: Math.min(...bins.map((b) => b.high - b.low)) };
    setDatasets(chart, [bars, diagonal]);
    const options = chart.config.options;
    Object.assign(options.scales, { x, y });
    options.plugins.subtitle.text = Number.isFinite(ece)
      ? `expected calibration error (ECE): ${ece.toFixed(3)} — the bars' distance from the diagonal, weighted by reviews`
      : "";
    chart.update("none");
    return chart;
  }

  // Bars by category (a histogram whose bins are named, e.g. "100–124" words). One series (``values``, no
  // legend) or several side by side (``series``: [{name, values}], e.g. live answers beside the test reviews).
  function bars(canvasOrId, { labels = [], values = null, name = "", series = null, xLabel = "", yLabel = "", percent = false } = {}) {
    const all = series || [{ name, values: values || [] }];
    const empty = !all.some((s) => s.values.some((v) => v > 0));
    const x = axis(xLabel, { empty });
    Object.assign(x, { type: "category", offset: true });
    delete x.ticks.callback; // the bins' own names
    Object.assign(x.ticks, { autoSkip: true, maxRotation: 50 });
    x.grid.display = false;
    const y = axis(yLabel, { empty, percent });
    Object.assign(y, { beginAtZero: true });
    if (!percent) y.ticks.precision = 0;

    const canvas = canvasElement(canvasOrId);
    let chart = existing(canvas, "bars");
    if (!chart) {
      const options = baseOptions();
      options.parsing = true; // plain numbers under named bins
      chart = new Chart(canvas, { type: "bar", data: { labels: [], datasets: [] }, options, plugins: [emptyState] });
    }
    chart.$charts = { kind: "bars", empty };
    chart.data.labels = labels;
    setDatasets(chart, all.map((s, i) => {
      const color = seriesStyle(i).color;
      return {
        label: s.name, data: s.values, backgroundColor: withAlpha(color, 0.55), borderColor: color, borderWidth: 1,
        categoryPercentage: all.length > 1 ? 0.8 : 1, barPercentage: 0.92,
      };
    }));
    const options = chart.config.options;
    options.plugins.legend.display = all.length > 1;
    Object.assign(options.scales, { x, y });
    const shown = (v) => (percent ? formatPercent(v) : formatNumber(v));
    options.plugins.tooltip.callbacks = {
      title: (items) => (items.length ? `${items[0].label} ${xLabel}`.trim() : ""),
      label: (item) => ` ${shown(item.parsed.y)} ${item.dataset.label}`,
    };
    chart.update("none");
    return chart;
  }

  // The page's own font, for every chart (Chart.js's default is Helvetica).
  Chart.defaults.font.family = bodyFont();
  Chart.defaults.font.size = 11;

  window.charts = { line, reliability, bars, formatNumber, formatPercent };
})();
