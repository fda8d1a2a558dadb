// Live run page: polls the run's progress JSON every two seconds while it is active.
(function () {
  const root = document.getElementById("run");
  const url = root.dataset.progressUrl;
  const $ = (id) => document.getElementById(id);

  function render(p) {
    $("status").textContent = p.status_display;
    $("status").className = `status ${p.status}`;
    $("bar").style.width = `${p.percent}%`;
    $("percent").textContent = p.percent;
    $("step").textContent = p.step;
    $("max-steps").textContent = p.max_steps;
    $("epoch").textContent = Number(p.epoch).toFixed(2);
    const shown = p.shown; // the figures as text, worked out by the server (templatetags/figures.py)
    $("eta").textContent = shown.time_left;
    $("eta-wrap").hidden = shown.scoring;
    $("phase").textContent = shown.phase;
    $("phase").hidden = !shown.scoring;
    $("loss").textContent = shown.loss;
    $("lr").textContent = shown.learning_rate;
    $("device").textContent = p.device || "—";
    $("precision").textContent = p.precision || "—";
    $("interruptions").textContent = p.interruptions;
    $("interruptions-count").textContent = p.interruptions;
    $("interrupted-note").hidden = !p.interruptions;
    $("cancel-note").hidden = !(p.cancel_requested && p.active);
    $("error").hidden = !p.error;
    $("error").textContent = p.error;
    $("log").textContent = p.log_tail; // as a terminal shows it, without progress bars
    $("checkpoint").textContent = p.last_checkpoint || "—";
    $("model-dir").textContent = p.model_dir || "—";
    // loss from 0 (a fall reads as a fall); learning rate from 0 to the peak the warm-up climbs to
    charts.line($("loss-chart"), { series: [{ name: "training loss", points: p.loss_curve }], xLabel: "steps", yLabel: "loss", yMin: 0 });
    const peak = Math.max(shown.learning_rate_peak || 0, ...p.lr_curve.map(([, rate]) => rate || 0));
    charts.line($("lr-chart"), {
      series: [{ name: "learning rate", points: p.lr_curve }], xLabel: "steps", yLabel: "learning rate",
      yRange: peak > 0 ? [0, peak * 1.05] : null,
    });
    const scores = p.eval_curve.flatMap((e) => [e.accuracy, e.f1]).filter((v) => v !== null && v !== undefined);
    charts.line($("eval-chart"), {
      series: [
        { name: "accuracy", points: p.eval_curve.map((e) => [e.step, e.accuracy]), dots: true },
        { name: "F1", points: p.eval_curve.map((e) => [e.step, e.f1]), dots: true },
      ],
      xLabel: "steps",
      yLabel: "score",
      yRange: [Math.floor(Math.min(0.4, ...scores) * 10) / 10, 1],
      percent: true,
    });
    if (p.test) {
      $("test-card").hidden = false;
      const t = p.test;
      const rows = [["Accuracy", t.accuracy], ["Precision", t.precision], ["Recall", t.recall], ["F1", t.f1], ["ROC AUC", t.roc_auc], ["Loss", t.loss]];
      $("test-metrics").replaceChildren(...rows.flatMap(([k, v]) => {
        const dt = document.createElement("dt"); dt.textContent = k;
        const dd = document.createElement("dd"); dd.textContent = charts.formatNumber(v);
        return [dt, dd];
      }));
      const [[tn, fp], [fn, tp]] = t.confusion_matrix;
      Object.entries({ tn, fp, fn, tp }).forEach(([id, v]) => ($(id).textContent = v));
      if (t.calibration) {
        $("ece").textContent = charts.formatNumber(t.calibration.ece);
        charts.reliability($("calibration-chart"), t.calibration);
      }
    }
    if (!p.active) {
      const form = $("cancel-form");
      if (form) form.remove();
    }
  }

  let wasActive = true;
  async function poll() {
    let p = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) p = await response.json();
    } catch (e) { /* the next poll retries */ }
    if (p) render(p);
    if (!p || p.active) { setTimeout(poll, 2000); return; }
    if (wasActive) {
      // one last look a few seconds later: the worker writes the log's last lines after the run ends
      wasActive = false;
      setTimeout(() => (p.status === "succeeded" ? location.reload() : poll()), 3000);
    }
  }
  const initial = JSON.parse(document.getElementById("initial-progress").textContent);
  render(initial);
  wasActive = initial.active;
  if (initial.active) setTimeout(poll, 2000);
})();
