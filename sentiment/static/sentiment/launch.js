// The launch form: each field shows the value the chosen preset gives it (updated when the preset changes),
// and the estimate on the right is asked again (debounced) whenever a setting changes.
(function () {
  "use strict";
  const form = document.getElementById("launch-form");
  // read as an attribute: the form has a field named "dataset", which hides form.dataset
  const estimateUrl = form.getAttribute("data-estimate-url");
  const presets = JSON.parse(document.getElementById("preset-values").textContent);
  const preset = form.elements.preset;
  const shown = (value) => (value === null || value === "" ? "empty" : value === true ? "yes" : value === false ? "no" : String(value));
  const PHASE_COLOURS = { prepare: "#9bb7d4", train: "#2f6fab", validation: "#6aa84f", test: "#e69138", checks: "#8e7cc3", other: "#bbb" };

  function showPresetValues() {
    const values = presets[preset.value] || {};
    for (const hint of form.querySelectorAll("[data-preset-for]")) {
      const name = hint.dataset.presetFor;
      if (!(name in values)) continue;
      const input = form.elements[name];
      const value = values[name];
      hint.textContent = "preset: " + shown(value);
      if (input.tagName === "SELECT") {
        const empty = input.querySelector('option[value=""]');
        if (empty) empty.textContent = "(preset: " + shown(value) + ")";
      } else {
        input.placeholder = shown(value);
      }
      hint.closest(".form-row").classList.toggle("changed", input.value !== "");
    }
  }

  function duration(seconds) {
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    const hours = seconds / 3600;
    return hours < 48 ? hours.toFixed(1) + " h" : (hours / 24).toFixed(1) + " days";
  }
  const gib = (bytes) => (bytes < 2 ** 30 ? Math.round(bytes / 2 ** 20) + " MiB" : (bytes / 2 ** 30).toFixed(1) + " GiB");
  const part = (name) => document.querySelector('[data-estimate="' + name + '"]');

  function showWarnings(texts) {
    for (const text of texts || []) {
      const item = document.createElement("li");
      item.textContent = text;
      if (text.startsWith("This run will not fit") || text.startsWith("Not enough disk")) item.className = "fatal";
      part("warnings").append(item);
    }
  }

  function showEstimate(found) {
    const warnings = part("warnings");
    warnings.replaceChildren();
    part("phases").replaceChildren();
    part("legend").replaceChildren();
    if (found.unavailable) {
      showWarnings(found.warnings); // what is known without an estimate: the data it needs
      for (const name of ["time", "memory", "disk", "reviews"]) part(name).textContent = "—";
      part("basis").textContent = found.unavailable;
      part("worker").textContent = "";
      part("memory-share").value = 0;
      return;
    }
    part("time").textContent = found.seconds === null ? "not measured yet" : "about " + duration(found.seconds);
    if (found.seconds) {
      for (const [name, seconds] of Object.entries(found.phases)) {
        if (seconds <= 0) continue;
        const bar = document.createElement("span");
        bar.style.width = (100 * seconds) / found.seconds + "%";
        bar.style.background = PHASE_COLOURS[name] || "#999";
        bar.title = name + ": " + duration(seconds);
        part("phases").append(bar);
        const key = document.createElement("span");
        key.innerHTML = '<i style="background:' + bar.style.background + '"></i>';
        key.append(name + " " + duration(seconds));
        part("legend").append(key);
      }
    }
    const memory = found.memory_bytes;
    part("memory").textContent = gib(found.peak_bytes) + (memory ? " of " + gib(memory) : "");
    part("memory-share").value = memory ? Math.min(found.peak_bytes / memory, 1) : 0;
    part("disk").textContent = gib(found.disk_bytes) + (found.disk_free_bytes ? " (" + gib(found.disk_free_bytes) + " free)" : "");
    const r = found.reviews;
    part("reviews").textContent = r.train.toLocaleString() + " to train on, " + r.validation.toLocaleString() +
      " to validate, " + r.test.toLocaleString() + " to test; about " + Math.round(r.tokens_per_review) +
      " word pieces each; " + r.steps.toLocaleString() + " steps";
    showWarnings(found.warnings);
    part("basis").textContent = found.basis;
    part("worker").textContent = "Worker: " + found.worker + "; " + found.precision + ".";
  }

  let timer = null;
  let asked = 0;
  function askEstimate() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const ticket = ++asked;
      const query = new URLSearchParams(new FormData(form));
      query.delete("csrfmiddlewaretoken");
      try {
        const response = await fetch(estimateUrl + "?" + query, { headers: { Accept: "application/json" } });
        if (ticket === asked) showEstimate(await response.json());
      } catch (error) {
        if (ticket === asked) showEstimate({ unavailable: "The estimate could not be fetched (" + error.message + ")." });
      }
    }, 250);
  }

  preset.addEventListener("change", showPresetValues);
  form.addEventListener("input", (event) => {
    const row = event.target.closest(".form-row");
    if (row) row.classList.toggle("changed", event.target.value !== "");
    askEstimate();
  });
  form.addEventListener("change", askEstimate);
  showPresetValues();
  askEstimate();
})();
