// CSV job page: polls the job's status until it ends.
(function () {
  const root = document.getElementById("csv-job");
  const $ = (id) => document.getElementById(id);
  async function poll() {
    try {
      const response = await fetch(root.dataset.statusUrl);
      if (response.ok) {
        const job = await response.json();
        $("bar").style.width = `${job.percent}%`;
        $("done").textContent = job.done;
        $("status").textContent = job.status_display;
        $("error").hidden = !job.error;
        $("error").textContent = job.error;
        if (job.status === "succeeded") { $("download").hidden = false; return; }
        if (job.status === "failed") return;
      }
    } catch (e) { /* retry */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
