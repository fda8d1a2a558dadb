// Pages waiting on a worker's analysis (an explanation, the promote page's evidence, behavioural checks):
// each [data-analysis-url] box polls its job and moves its bar; once the job has ended, the page is
// loaded again, now with the result (or the reason it failed).
(function () {
  for (const box of document.querySelectorAll("[data-analysis-url]")) {
    const bar = box.querySelector(".bar > div");
    const said = box.querySelector("[data-analysis-status]");
    async function poll() {
      try {
        const response = await fetch(box.dataset.analysisUrl, { headers: { Accept: "application/json" } });
        if (response.ok) {
          const job = await response.json();
          if (bar) bar.style.width = `${job.percent}%`;
          if (said) said.textContent = job.status_display;
          if (job.status === "succeeded" || job.status === "failed") { window.location.reload(); return; }
        }
      } catch (e) { /* the next try */ }
      setTimeout(poll, 1000);
    }
    setTimeout(poll, 1000);
  }
})();
