"""What observability costs an answer: HTTP p50 of ``POST /api/v1/classify`` with each switch off and on, in one run.

Each **variant** is a set of environment settings for a gunicorn server with the project's config (DEBUG off,
rate limits raised but still counted in Redis, the same served model and runtime). The **baseline** has every
switch off; then each switch runs alone, and, with more than one switch, all of them together. A switch is
one entry of ``SWITCHES``: its name and its settings off and on (metrics; logs, JSON against plain lines;
traces, exported over OTLP/HTTP to a sink that stands for a collector), and every variant follows.

All the servers start first and load the model; then, after a warm-up of each, they take turns for
``--rounds`` rounds of ``--requests`` requests each (one keep-alive connection per server, one review, the
order of the servers turned round each round): with one request a round, the variants' requests are
milliseconds apart, so that all meet the machine's ups and downs alike. Reported per variant: p50 and p95 of
every request, and what it adds to the baseline's p50, both as the difference of the two p50s and as the
median of the rounds' paired differences; and the CPU time its web workers spent per request (from /proc),
which a busy machine disturbs far less than the clock. A second server with the baseline's settings
(``baseline-again``) is the control: what it "adds" is what two servers differ by with nothing changed. With
metrics on, the time of one scrape of ``/metrics`` is measured too (Prometheus asks every 15 s), and, each in a
process of its own in prometheus_client's multiprocess mode: what counting one answer costs a service
(``sentiment.metrics.families``), done in every variant since ``METRICS_ENABLED`` leaves out the HTTP
middlewares and ``/metrics``, not the services' counters; and the CPU time the middlewares add to a request,
with Django's test client on a view that does next to nothing, blocks of requests with and without them
taking turns: on a busy machine, a figure two servers' clocks cannot resolve.

Without ``--model``, the served model is MiniLM with an untrained classification head, exported to ONNX
(int8), the runtime a trained smoke model is served on: the same work per answer as a trained one; its
answers mean nothing, which costs nothing here.

    python -m bench.observability_overhead --out bench/results/cpu-<name>-observability-overhead.json
    python -m bench.observability_overhead --model var/runs/run-1-*     # a trained run, its own runtime
    python -m bench.observability_overhead --quick                      # a smoke test
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import common
from bench.common import imdb_reviews, median_review
from bench.served_site import child_pids, post, promoted_run, server, unlimited_rates

# name -> (settings off, settings on): each variant is made of these
SWITCHES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "metrics": ({"METRICS_ENABLED": "false"}, {"METRICS_ENABLED": "true"}),
    # logs: the stack's JSON lines against lines for people; a line per request is written in both (the server
    # logs at INFO, where each worker says it has loaded the model), so this is what JSON costs over plain
    "logs": ({"LOG_FORMAT": "plain"}, {"LOG_FORMAT": "json"}),
    # traces on: every request a span, exported in batches over OTLP/HTTP to a collector (a sink here)
    "traces": ({"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}),
}
TARGET_MS = 1.0  # the issue's: observability adds at most 1 ms to the p50
METRICS_TOKEN = secrets.token_urlsafe(24)  # as a deployment sets one
DEFAULTS = {"rounds": (500, 40), "requests": (1, 1), "warmup": (30, 10)}


def variants() -> dict[str, dict[str, str]]:
    """Every switch off (the baseline, twice: the control), each one on alone, and (with several) all on."""
    off = {key: value for settings, _ in SWITCHES.values() for key, value in settings.items()}
    found = {"baseline": dict(off), "baseline-again": dict(off)}
    for name, (_, on) in SWITCHES.items():
        found[name] = {**off, **on}
    if len(SWITCHES) > 1:
        found["all"] = {key: value for _, on in SWITCHES.values() for key, value in on.items()}
    return found


@contextmanager
def collector_sink():
    """A stand-in for an OpenTelemetry collector on this machine: it takes every OTLP/HTTP export and answers
    200, so that the traces' variant pays for making and sending spans, not for a collector that is away."""

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # quiet
            pass

    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sink.server_address[1]}"
    finally:
        sink.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained run's output folder or model/ (default: MiniLM, untrained head)")
    parser.add_argument("--rounds", type=int, help="rounds in which every variant takes its turn (500)")
    parser.add_argument("--requests", type=int, help="requests to each variant in a round (1)")
    parser.add_argument("--warmup", type=int, help="requests to each variant before timing (30)")
    args = common.parse_arguments(parser, DEFAULTS)

    with tempfile.TemporaryDirectory(prefix="bench-observability-") as tmp, collector_sink() as endpoint:
        SWITCHES["traces"][1]["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        unlimited_rates()
        os.environ["METRICS_TOKEN"] = METRICS_TOKEN
        common.throwaway_site(tmp, debug=False)
        from ml.serving.labeller import resolve_model_dir
        from sentiment.selectors.serving import training_run_serving_runtime

        model_dir = resolve_model_dir(args.model) if args.model else untrained_minilm(Path(tmp) / "minilm")
        run, key = promoted_run(model_dir)
        runtime = training_run_serving_runtime(run=run) if args.model else "onnx-int8"
        review = median_review(imdb_reviews()["text"])
        settings = variants()
        with ExitStack() as stack:
            servers = {}
            for name, env in settings.items():
                with environment(env):
                    servers[name] = stack.enter_context(started(server(tmp, name, runtime=runtime)))
            ports = {name: running.port for name, running in servers.items()}
            connections = {
                name: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for name, port in ports.items()
            }
            for conn in connections.values():
                answered(conn, key, review, args.warmup)
            workers = {name: child_pids(running.process.pid) for name, running in servers.items()}
            cpu_before = {name: cpu_seconds(pids) for name, pids in workers.items()}
            seconds = {name: [] for name in settings}
            rounds = {name: [] for name in settings}
            order = list(settings)
            for number in range(args.rounds):
                turn = order[number % len(order) :] + order[: number % len(order)]
                for name in turn:
                    times = answered(connections[name], key, review, args.requests)
                    seconds[name].extend(times)
                    rounds[name].append(statistics.median(times))
            cpu = {name: cpu_seconds(pids) - cpu_before[name] for name, pids in workers.items()}
            scrapes = {
                name: scrape_ms(port)
                for name, port in ports.items()
                if settings[name].get("METRICS_ENABLED", "true") != "false"
            }
        result = {
            "benchmark": "observability_overhead",
            "machine": common.machine(),
            "model": str(model_dir) if args.model else "MiniLM (all-MiniLM-L6-v2), untrained classification head",
            "runtime": runtime,
            "review_words": len(review.split()),
            "web_workers": int(os.environ.get("WEB_WORKERS") or 2),
            "baseline": "every switch off: " + ", ".join(f"{k}={v}" for k, v in settings["baseline"].items()),
            "control": "baseline-again: a second server with the baseline's settings",
            "variants": {
                name: summary(seconds[name], rounds[name], seconds["baseline"], rounds["baseline"])
                | cpu_summary(cpu[name], cpu["baseline"], len(seconds[name]))
                | {"settings": env}
                for name, env in settings.items()
            },
            "rounds": args.rounds,
            "requests_per_round": args.requests,
            "metrics_scrape_ms": scrapes,
            "service_counting_us_per_answer": counting_cost(tmp),
            "middleware_cpu_us_per_request": middleware_cost(tmp),
        }
        result["targets"] = {
            f"{name}_adds_at_most_{TARGET_MS:g}_ms_to_p50": {
                "measured_ms": measured["added_p50_ms_paired"],
                "met": measured["added_p50_ms_paired"] <= TARGET_MS,
            }
            for name, measured in result["variants"].items()
            if not name.startswith("baseline")
        }
    common.emit(result, args.out)


@contextmanager
def started(web: server):
    """``web`` started, and stopped at the end: the object itself (its port, its master process)."""
    web.start()
    try:
        yield web
    finally:
        web.stop()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user and system) the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime and stime, the line's 14th and 15th fields
    return total / os.sysconf("SC_CLK_TCK")


def cpu_summary(cpu: float, base: float, requests: int) -> dict:
    return {
        "cpu_ms_per_request": round(1000 * cpu / requests, 3),
        "added_cpu_ms_per_request": round(1000 * (cpu - base) / requests, 3),
    }


@contextmanager
def environment(settings: dict[str, str]):
    """``settings`` in this process's environment while a server starts (it copies the environment)."""
    before = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def answered(conn, key: str, review: str, requests: int) -> list[float]:
    """Seconds each of ``requests`` classifications took, one after the other on ``conn``."""
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        status, data = post(0, "/api/v1/classify", {"text": review}, key=key, conn=conn)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"the API answered {status}: {data[:300]!r}")
    return times


def summary(seconds: list[float], rounds: list[float], base: list[float], base_rounds: list[float]) -> dict:
    p50, base_p50 = statistics.median(seconds), statistics.median(base)
    return {
        "p50_ms": round(1000 * p50, 3),
        "p95_ms": round(1000 * common.percentile(seconds, 95), 3),
        "requests": len(seconds),
        "added_p50_ms": round(1000 * (p50 - base_p50), 3),
        "added_p50_ms_paired": round(
            1000 * statistics.median(r - b for r, b in zip(rounds, base_rounds, strict=True)), 3
        ),
    }


def scrape_ms(port: int, scrapes: int = 20) -> dict:
    """Milliseconds one GET /metrics takes (with the token), after the benchmark's traffic."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, size = [], 0
    for _ in range(scrapes):
        started = time.perf_counter()
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        response = conn.getresponse()
        size = len(response.read())
        times.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"/metrics answered {response.status}")
    conn.close()
    return {"p50_ms": round(1000 * statistics.median(times), 2), "bytes": size}


COUNTING = """
import sys, time
from types import SimpleNamespace
from sentiment.metrics.families import predictions_count
answers = [SimpleNamespace(label="positive", probability=0.93)]
for _ in range(2000):
    predictions_count(runtime="onnx-int8", run_id=1, answers=answers, seconds=0.02)
n = int(sys.argv[1])
started = time.perf_counter()
for _ in range(n):
    predictions_count(runtime="onnx-int8", run_id=1, answers=answers, seconds=0.02)
print((time.perf_counter() - started) / n * 1e6)
"""


def counting_cost(tmp: str, calls: int = 50_000) -> float:
    """Microseconds ``predictions_count`` takes for one answer, in multiprocess mode (a process of its own)."""
    folder = Path(tmp) / "counting"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    out = subprocess.run([sys.executable, "-c", COUNTING, str(calls)], cwd=common.ROOT, env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return round(float(out.stdout.strip()), 2)


MIDDLEWARE = """
import statistics, sys, time
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
with_metrics = list(settings.MIDDLEWARE)
without = [name for name in with_metrics if "prometheus" not in name and ".metrics." not in name]
clients = {}
for name, middleware in (("on", with_metrics), ("off", without)):
    with override_settings(MIDDLEWARE=middleware):
        clients[name] = Client()
        for _ in range(300):  # the first request loads the middleware, kept by the client
            clients[name].get("/favicon.ico")
blocks, requests = int(sys.argv[1]), int(sys.argv[2])
spent = {"on": [], "off": []}
for number in range(blocks):
    for name in (("on", "off") if number % 2 else ("off", "on")):
        started = time.process_time()
        for _ in range(requests):
            clients[name].get("/favicon.ico")
        spent[name].append((time.process_time() - started) / requests * 1e6)
print(statistics.median(on - off for on, off in zip(spent["on"], spent["off"])), statistics.median(spent["off"]))
"""


def middleware_cost(tmp: str, blocks: int = 30, requests: int = 300) -> dict:
    """Microseconds of CPU the metrics middlewares add to one request (median of paired blocks), and what a
    request to a view that does next to nothing costs without them."""
    folder = Path(tmp) / "middleware"
    folder.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_ENABLED": "true",
        "ALLOWED_HOSTS": "testserver",
    }
    out = subprocess.run([sys.executable, "-c", MIDDLEWARE, str(blocks), str(requests)], cwd=common.ROOT, env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    added, request = (float(word) for word in out.stdout.split()[-2:])
    return {"added": round(added, 1), "request_without": round(request, 1), "view": "GET /favicon.ico (a redirect)"}


def untrained_minilm(folder: Path) -> Path:
    """MiniLM with a fresh two-label head, saved like a trained model (config, tokenizer, the run's settings),
    and exported to ONNX fp32 and int8 (``ml.serving.onnx_export``)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ml.base_models import builtin_models
    from ml.config import CONFIG_FILE
    from ml.presets import config_from_preset
    from ml.serving.onnx_export import onnx_files_write

    source = builtin_models()["minilm"]
    labels = {0: "negative", 1: "positive"}
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    (folder / CONFIG_FILE).write_text(json.dumps(config_from_preset("smoke").to_dict()))
    onnx_files_write(folder)
    return folder


if __name__ == "__main__":
    main()
