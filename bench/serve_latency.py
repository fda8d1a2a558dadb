"""Answers on a CPU: each serving runtime, in-process and through the site's HTTP API, against the old default.

The runtimes are ``ml.serving.choice``'s. The **baseline** is ``pytorch-int8`` (PyTorch's torch.ao dynamic
quantization), what the site served by default before the ONNX export existed; the **candidate** is
``onnx-int8`` (the optimized ONNX export in 8-bit integers, run by ONNX Runtime without PyTorch);
``onnx-fp32`` and ``pytorch`` (the weights as trained) are reported beside them. Measured, each against
the baseline in this one run, because these machines are too noisy for figures from different runs:

- in-process, through ``ml.serving.inference.predictor_load``: warm load time and p50/p95 of one
  median-length review, tokenization included; the runtimes take turns in rounds of 20 answers, so that
  each meets the machine's ups and downs;
- accuracy of every runtime on the same test reviews and its cost in points against PyTorch as trained;
  the run's serving check (``metrics["serving"]``, made here with ``ml.serving.check`` when the run has
  none or no ONNX export: that re-exports the model) and the runtime ``SERVE_RUNTIME=auto`` picks from it;
- HTTP: p50/p95 of the same review POSTed to ``/api/classify`` on real gunicorn servers with the
  project's config, one per runtime (``SERVE_RUNTIME=<runtime>``, ``WEB_CORES``), asked in turn, one
  request at a time, so that they share the machine's ups and downs;
- each server's start-up: seconds from spawning gunicorn until its port answers, and until every web
  worker has loaded the model (the servers start one after the other, so no start-up shares the CPU
  with another); each web worker's memory (VmRSS, and the peak VmHWM, from /proc) once the model is
  loaded and again after answering, and whether PyTorch (libtorch) or ONNX Runtime is mapped in it;
- CSV throughput: the worker's CSV service (``csv_classification_process``: batches of 8, side by side,
  one core each) on a CSV of reviews, per runtime, the model loaded and warmed first;
- a load test from a second process (``wrk`` on loopback, each step bounded in time) for the baseline and
  the candidate: requests per second and p99 at rising concurrency, and the highest rate whose p99 stays
  under a second;
- a promotion while a client keeps asking the candidate's server: every request is answered, by the old
  model until the new one has loaded, and the slowest answer during the swap is reported;
- ``targets``: the issue's targets, each as measured / target / met.

The servers run with ``DEBUG=false`` (``--debug`` turns it on): in DEBUG, Django keeps and times every
SQL query, which production does not. The rate limits are raised (they still count in Redis, as in
production) so that the benchmark's own requests are never refused. It works in a throw-away database
and media folder; the model is a trained run's folder (an older run without an ONNX export gets one):

    make train && python -m bench.serve_latency --model var/runs/run-1-* --out result.json
    python -m bench.serve_latency --model var/runs/run-1-* --quick    # a smoke test: a few minutes
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench import common
from bench.common import imdb_reviews, latency_summary, median_review, runtime_accuracy, serving_machine
from bench.served_site import post, promoted_run, server, unlimited_rates, web_workers, worker_memory

BASELINE = "pytorch-int8"  # the old default serving path
CANDIDATE = "onnx-int8"
RUNTIMES = (BASELINE, CANDIDATE, "onnx-fp32", "pytorch")  # the baseline and candidate first: they start first
REFERENCE = "pytorch"  # accuracy costs are counted against the weights as trained
CSV_BATCH = 8  # as the CSV worker classifies (sentiment/services/csv_jobs.py)
LOAD_CONNECTIONS = (1, 2, 4, 8, 16)
# (full run, --quick) for the options left unset
DEFAULTS = {
    "requests": (200, 20),
    "accuracy_reviews": (1000, 100),
    "csv_reviews": (600, 64),
    "load_seconds": (10, 2),
    "load_connections": (",".join(map(str, LOAD_CONNECTIONS)), "1,2,4"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--requests", type=int, help="timed single requests per runtime and measurement (200)")
    parser.add_argument("--accuracy-reviews", type=int, help="test reviews each runtime is scored on (1000)")
    parser.add_argument("--csv-reviews", type=int, help="reviews in the CSV file (600)")
    parser.add_argument("--load-seconds", type=int, help="length of each load-test step (10)")
    parser.add_argument("--load-connections", help="load-test steps, comma-separated (1,2,4,8,16)")
    parser.add_argument(
        "--runtimes",
        default=",".join(RUNTIMES),
        help="runtimes served over HTTP and given a CSV (the baseline and candidate always are); "
        "in-process and accuracy figures cover all four",
    )
    parser.add_argument("--cores", type=int, default=0, help="WEB_CORES of the servers (0: shared between workers)")
    parser.add_argument("--serving-check", action="store_true", help="run ml.serving.check again (re-exports)")
    parser.add_argument("--debug", action="store_true", help="run the servers with DEBUG=true (as in development)")
    args = common.parse_arguments(parser, DEFAULTS)
    served = [BASELINE, CANDIDATE, *(r for r in args.runtimes.split(",") if r and r not in (BASELINE, CANDIDATE))]
    unknown = set(served) - set(RUNTIMES)
    if unknown:
        parser.error(f"unknown runtimes {sorted(unknown)}; choose from {', '.join(RUNTIMES)}")
    connections = tuple(int(c) for c in args.load_connections.split(",") if c)

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        unlimited_rates()
        common.throwaway_site(tmp, debug=args.debug, SERVE_RUNTIME="auto")  # each server is told its own
        from django.conf import settings

        from ml.results import ServingCheck
        from ml.serving.choice import AUTO, serving_runtime
        from ml.serving.labeller import resolve_model_dir

        model_dir = resolve_model_dir(args.model)
        result = {
            "benchmark": "serve_latency",
            "machine": serving_machine(),
            "model": str(model_dir),
            "baseline": BASELINE,
            "candidate": CANDIDATE,
            "settings": {"debug": args.debug, "web_cores": args.cores, "web_workers": web_workers()},
        }
        reviews = imdb_reviews()
        review = median_review(reviews["text"])
        result["review"] = {"characters": len(review), "source": reviews["source"]}

        check, source = serving_check_of(model_dir, reviews, args.accuracy_reviews, again=args.serving_check)
        measured = ServingCheck.from_json(check)
        auto = serving_runtime(measured, setting=AUTO, max_loss_points=settings.INT8_MAX_ACCURACY_LOSS)
        result["serving_check"] = {"source": source, "auto_runtime": auto, **check}

        predictors, loads = load_predictors(model_dir)
        result["inference"] = inference_latency(predictors, loads, review, args.requests)
        result["accuracy"] = runtime_accuracy(predictors, reviews, args.accuracy_reviews, reference=REFERENCE)
        del predictors
        gc.collect()

        run, key = promoted_run(model_dir, check)
        servers: dict[str, server] = {}
        try:
            for runtime in served:  # one after the other: each start-up has the CPU to itself
                servers[runtime] = server(tmp, runtime, runtime=runtime, cores=args.cores).start()
            loaded_memory = {name: worker_memory(s.process.pid) for name, s in servers.items()}
            ports = {name: s.port for name, s in servers.items()}
            result["http"] = http_latency(ports, key, review, args.requests)
            result["web_workers"] = {
                name: {
                    "startup": s.startup,
                    "model_loaded": loaded_memory[name],
                    "after_answering": worker_memory(s.process.pid),
                }
                for name, s in servers.items()
            }
            result["web_workers"]["peak_rss_vs_baseline"] = ratio_to_baseline(
                {name: w["after_answering"]["peak_rss_mb_max"] for name, w in result["web_workers"].items()}
            )
            result["load_test"] = {
                name: load_test(servers[name].port, key, review, args.load_seconds, connections)
                for name in (BASELINE, CANDIDATE)
            }
            result["swap_during_promotion"] = {
                "runtime": CANDIDATE,
                **swap_during_promotion(servers[CANDIDATE].port, key, review, run),
            }
        finally:
            for s in servers.values():
                s.stop()
        result["csv"] = csv_throughput(reviews["text"][: args.csv_reviews], served)
        result["targets"] = targets(result)
    common.emit(result, args.out)


def ratio_to_baseline(values: dict[str, float | None]) -> dict[str, float | None]:
    base = values.get(BASELINE)
    return {name: round(v / base, 2) if v is not None and base else None for name, v in values.items()}


# --- in-process: ml.serving.inference ------------------------------------------------------------------------


def serving_check_of(model_dir: Path, reviews: dict, n: int, *, again: bool) -> tuple[dict, str]:
    """The run's serving check as training recorded it in metrics.json; made here (``ml.serving.check``,
    which exports the model to ONNX again) when asked, or when the run has no check or no export."""
    from ml.serving.onnx_inference import VARIANTS, onnx_folder

    metrics_file = model_dir.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    check = metrics.get("serving") or {}
    exported = all((onnx_folder(model_dir) / name).is_file() for name in VARIANTS.values())
    if check.get("runtimes") and exported and not again:
        return check, f"{metrics_file} (made after training)"
    from ml.serving.check import serving_check

    started = time.perf_counter()
    check = serving_check(model_dir, reviews["text"][:n], reviews["label"][:n])
    return check, f"ml.serving.check, run here in {time.perf_counter() - started:.0f} s (the model re-exported)"


def load_predictors(model_dir: Path) -> tuple[dict, dict]:
    """Every runtime's predictor, through ``predictor_load``, with the time of a warm load: each is loaded
    once untimed first, so that none pays for imports (transformers imports the model's code on its
    first load) or for reading its files from disk. A web worker's cold load is under ``web_workers``."""
    from ml.serving.inference import predictor_load

    predictors, loads = {}, {}
    for runtime in RUNTIMES:
        predictor_load(model_dir, runtime)
        gc.collect()
        started = time.perf_counter()
        predictors[runtime] = predictor_load(model_dir, runtime)
        loads[runtime] = round(time.perf_counter() - started, 3)
    return predictors, loads


def answer_times(predictor, texts: list[str], requests: int) -> list[float]:
    out = []
    for _ in range(requests):
        started = time.perf_counter()
        predictor.predict(texts)
        out.append(time.perf_counter() - started)
    return out


def inference_latency(predictors: dict, loads: dict, review: str, requests: int) -> dict:
    """One review at a time, each runtime in turn for rounds of 20 answers, after 5 untimed ones each."""
    for predictor in predictors.values():
        answer_times(predictor, [review], 5)
    per_round = min(20, requests)
    samples: dict[str, list[float]] = {name: [] for name in predictors}
    for _ in range(max(1, round(requests / per_round))):
        for name, predictor in predictors.items():
            samples[name] += answer_times(predictor, [review], per_round)
    out = {name: {"load_seconds": loads[name], **latency_summary(seconds)} for name, seconds in samples.items()}
    speedups = ratio_to_baseline({name: 1 / out[name]["p50_ms"] for name in out})
    for name in out:
        out[name]["speedup_p50_vs_baseline"] = speedups[name]
    return out


# --- over HTTP, to the servers of bench.served_site --------------------------------------------------


def http_latency(ports: dict[str, int], key: str, review: str, requests: int) -> dict:
    """One request at a time, to each site in turn (one keep-alive connection each); p50/p95 per site,
    and the runtime that each site's answers say computed them."""
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=30) for name, port in ports.items()}
    times: dict[str, list[float]] = {name: [] for name in ports}
    answered_by: dict[str, set] = {name: set() for name in ports}
    for i in range(requests + 5):
        for name, port in ports.items():
            t = time.perf_counter()
            status, data = post(port, "/api/classify", {"text": review}, key=key, conn=conns[name])
            if status != 200:
                raise RuntimeError(f"/api/classify of {name} answered {status}: {data[:200]!r}")
            if i >= 5:
                times[name].append(time.perf_counter() - t)
                answered_by[name].add(json.loads(data)["runtime"])
    for conn in conns.values():
        conn.close()
    out = {
        name: {**latency_summary(seconds), "runtime_answered": sorted(answered_by[name])}
        for name, seconds in times.items()
    }
    speedups = ratio_to_baseline({name: 1 / out[name]["p50_ms"] for name in out})
    for name in out:
        out[name]["speedup_p50_vs_baseline"] = speedups[name]
    return out


def load_test(port: int, key: str, review: str, seconds: int, connections=LOAD_CONNECTIONS) -> dict:
    """wrk at rising concurrency; the sustained rate is the highest whose p99 stays under 1 s."""
    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps({'text': review}))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {key}"\n'
            "done = function(summary, latency, requests)\n"
            '  io.write(string.format("JSON {\\"requests\\": %d, \\"seconds\\": %f, \\"errors\\": %d, '
            '\\"non2xx\\": %d, \\"p50_ms\\": %f, \\"p99_ms\\": %f, \\"max_ms\\": %f}\\n", summary.requests, '
            "summary.duration / 1e6, summary.errors.connect + summary.errors.read + summary.errors.write + "
            "summary.errors.timeout, summary.errors.status, latency:percentile(50) / 1000, "
            "latency:percentile(99) / 1000, latency.max / 1000))\n"
            "end\n"
        )
    steps = []
    for concurrent in connections:
        output = subprocess.run(
            [
                wrk,
                "-t",
                "1",
                "-c",
                str(concurrent),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}/api/classify",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        )
        line = next((x for x in output.stdout.splitlines() if x.startswith("JSON ")), None)
        if line is None:
            steps.append({"connections": concurrent, "failed": (output.stderr or output.stdout).strip()[-300:]})
            continue
        stats = json.loads(line[5:])
        stats["connections"] = concurrent
        stats["requests_per_second"] = round(stats["requests"] / stats["seconds"], 1)
        for k in ("p50_ms", "p99_ms", "max_ms", "seconds"):
            stats[k] = round(stats[k], 1)
        steps.append(stats)
    os.unlink(script.name)
    ok = [s for s in steps if "failed" not in s and s["p99_ms"] < 1000 and not s["errors"] and not s["non2xx"]]
    best = max(ok, key=lambda s: s["requests_per_second"]) if ok else None
    return {
        "tool": "wrk, 1 thread, keep-alive, on loopback",
        "steps": steps,
        "sustained_requests_per_second": best["requests_per_second"] if best else None,
        "at_connections": best["connections"] if best else None,
        "p99_ms_at_that_rate": best["p99_ms"] if best else None,
    }


def swap_during_promotion(port: int, key: str, review: str, run) -> dict:
    """Promote a copy of the model while a client keeps asking; report what each answer came from."""
    from sentiment.models import TrainingRun
    from sentiment.services.promotions import training_run_promote

    copy = TrainingRun.objects.get(pk=run.pk)
    copy.pk = None
    copy.save()
    answers, stop = [], threading.Event()

    def ask():
        while not stop.is_set():
            t = time.perf_counter()
            try:
                status, data = post(port, "/api/classify", {"text": review}, key=key)
                answers.append(
                    (time.perf_counter() - t, status, json.loads(data).get("run") if status == 200 else None)
                )
            except (OSError, http.client.HTTPException) as exc:
                answers.append((time.perf_counter() - t, repr(exc), None))

    client = threading.Thread(target=ask)
    client.start()
    deadline = time.monotonic() + 30
    while len(answers) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    before = len(answers)
    training_run_promote(run=copy, user=run.promotions.first().promoted_by, reason="promoted by the benchmark")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(a[2] == copy.pk for a in answers[before:]):
        time.sleep(0.1)
    time.sleep(1)
    stop.set()
    client.join()
    during = answers[before:]
    switched = next((i for i, a in enumerate(during) if a[2] == copy.pk), None)
    window = during[: (switched or len(during)) + 1]
    return {
        "requests_after_promotion": len(during),
        "all_answered": all(a[1] == 200 for a in answers),
        "answered_by_old_model_while_loading": switched,
        "new_model_answered": switched is not None,
        "slowest_ms_during_swap": round(max(a[0] for a in window) * 1000, 1) if window else None,
        "median_ms_before": round(statistics.median([a[0] for a in answers[:before]]) * 1000, 1) if before else None,
    }


# --- the CSV worker --------------------------------------------------------------------------------


def csv_throughput(texts: list[str], runtimes: list[str]) -> dict:
    """The worker's CSV service on a CSV of real reviews, per runtime, timed from claim to the stored result.

    Each runtime is forced as ``SERVE_RUNTIME`` would force it in the worker. The served model is loaded
    and warmed first (16 reviews, the service's options), as it is in a worker after its first job; its
    load time is reported apart.
    """
    import csv
    import io

    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.test import override_settings

    from ml.hardware import cpu_cores
    from sentiment.models import CsvClassification
    from sentiment.services.csv_jobs import csv_classification_process
    from sentiment.services.serving import serving_slot

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text"])
    writer.writeheader()
    writer.writerows({"text": t} for t in texts)
    upload = out.getvalue().encode()
    user = get_user_model().objects.get(username="bench")
    results = {}
    for runtime in runtimes:
        with override_settings(SERVE_RUNTIME=runtime):
            serving_slot.reset()
            loading = time.perf_counter()
            predictor = serving_slot.get(wait=True).predictor
            load_seconds = time.perf_counter() - loading
            predictor.predict(texts[:16], batch_size=CSV_BATCH, threads=cpu_cores(), cores=1)
            job = CsvClassification(user=user, filename="bench.csv", total_rows=len(texts))
            job.upload.save("bench.csv", ContentFile(upload), save=False)
            job.save()
            started = time.perf_counter()
            status = "continued"
            while status == "continued":  # a file longer than CSV_SLICE_ROWS takes several slices
                status = csv_classification_process(job_id=job.pk)
            seconds = time.perf_counter() - started
            job.refresh_from_db()
        results[runtime] = {
            "reviews": len(texts),
            "status": status,
            "runtime_recorded": job.runtime,
            "model_load_seconds_before": round(load_seconds, 2),
            "seconds": round(seconds, 2),
            "reviews_per_second": round(len(texts) / seconds, 1),
        }
    serving_slot.reset()
    speedups = ratio_to_baseline({name: r["reviews_per_second"] for name, r in results.items()})
    for name in results:
        results[name]["speedup_vs_baseline"] = speedups[name]
    return results


# --- the targets -----------------------------------------------------------------------------


def target(measured, goal: str, met: bool | None, **detail) -> dict:
    """One target: None for ``met`` when it was not measured (e.g. no wrk), rather than missed."""
    return {"measured": measured, "target": goal, "met": None if measured is None else met, **detail}


def targets(result: dict) -> dict:
    """The issue's targets, measured on the candidate (``onnx-int8``); the ratios against the baseline."""
    c = CANDIDATE
    one = result["inference"][c]["p50_ms"]
    http = result["http"][c]
    csv_rate = result["csv"][c]["reviews_per_second"]
    base_rate = result["load_test"][BASELINE].get("sustained_requests_per_second")
    cand_rate = result["load_test"][c].get("sustained_requests_per_second")
    load_ratio = round(cand_rate / base_rate, 2) if cand_rate is not None and base_rate else None
    memory = result["web_workers"]["peak_rss_vs_baseline"][c]
    peak_mb = {name: result["web_workers"][name]["after_answering"]["peak_rss_mb_max"] for name in (BASELINE, c)}
    cost = result["accuracy"][c]["cost_points_vs_pytorch"]
    swap = result["swap_during_promotion"]
    return {
        "runtime": c,
        "one_review_in_process_p50_ms": target(one, "<= 8", one <= 8),
        "http_p50_ms": target(http["p50_ms"], "<= 15", http["p50_ms"] <= 15),
        "http_p95_ms": target(http["p95_ms"], "<= 25", http["p95_ms"] <= 25),
        "csv_reviews_per_second": target(csv_rate, ">= 150", csv_rate >= 150),
        "load_test_rate_vs_baseline": target(
            load_ratio,
            ">= 2.0",
            load_ratio is not None and load_ratio >= 2,
            requests_per_second={BASELINE: base_rate, c: cand_rate},
        ),
        "web_worker_peak_memory_vs_baseline": target(
            memory, "<= 0.5", memory is not None and memory <= 0.5, peak_rss_mb=peak_mb
        ),
        "int8_accuracy_cost_points": target(cost, "<= 0.5", cost <= 0.5),
        "answered_during_model_swap": target(swap["all_answered"], "all answered", swap["all_answered"]),
        "auto_runtime": result["serving_check"]["auto_runtime"],
        "auto_serves_candidate": result["serving_check"]["auto_runtime"] == c,
    }


if __name__ == "__main__":
    main()
