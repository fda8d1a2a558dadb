"""Day 100 in ten minutes: polite and abusive clients at once against gunicorn and a real worker.

The stack as it runs in production, on this machine: gunicorn (the project's config, DEBUG off) serving a
trained model, a Celery default worker (CSV files, explanations, the sweep) with its beat, the broker on
Redis, and the cache on a Redis server of its own bounded as the compose stack bounds it (``--cache-mb``,
least recently used keys evicted). The clients are locust's (``bench/soak_locust.py``, in an environment
of its own: requirements-soak.txt): polite ones using the product within its limits, abusive ones trying
every way around them.

The **baseline** is measured first, in the same session: one polite client alone, the p50 and p95 of a
classification. Then the soak, ``--minutes`` long. What it reports:

- the polite clients' errors (the target is none) and their p50/p95 beside the baseline's;
- what each kind of abuse was answered (4xx and 429: refused; 2xx: what the limits let through; 5xx: none);
- the web workers' memory every ``--every`` seconds (flat, not growing), the two Redis servers' memory
  (the cache bounded by its limit, the broker small), and each person's stored bytes against the quota.

    make train && python -m bench.soak --model var/runs/run-1-* --out bench/results/soak.json
    python -m bench.soak --model var/runs/run-1-* --quick      # a smoke test: two minutes
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import common
from bench.common import imdb_reviews, latency_summary
from bench.served_site import post, promoted_run, server, worker_memory

ROOT = common.ROOT
REQUIREMENTS = ROOT / "requirements-soak.txt"
DEFAULTS = {"minutes": (10.0, 2.0), "baseline_seconds": (60.0, 20.0), "polite": (6, 3), "abusive": (4, 2)}
QUOTA = 2 * 2**20  # each person's stored bytes in the soak: a few uploads of the abusers pass it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--minutes", type=float, help="how long the soak lasts (10)")
    parser.add_argument("--baseline-seconds", type=float, help="the unloaded baseline's length (60)")
    parser.add_argument("--polite", type=int, help="polite clients (6)")
    parser.add_argument("--abusive", type=int, help="abusive clients (4)")
    parser.add_argument("--cache-mb", type=int, default=32, help="the cache server's memory limit (MB)")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between two samples of memory")
    args = common.parse_arguments(parser, DEFAULTS)
    locust = _locust()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp, _cache_server(tmp, args.cache_mb) as cache_url:
        # each client comes from an address of its own, as a proxy in front says (X-Forwarded-For): on loopback
        # they would all share one address's limit
        os.environ.update(CACHE_URL=cache_url, MAX_STORED_BYTES_PER_PERSON=str(QUOTA), TRUST_X_FORWARDED_FOR="true",
                          CELERY_BROKER_URL=os.environ.get("SOAK_BROKER_URL", "redis://127.0.0.1:6379/7"))  # fmt: skip
        common.throwaway_site(tmp, debug=False, DATABASE_URL=_database())
        run, key = promoted_run(args.model)
        clients = _clients(args, tmp)
        with _default_worker(tmp), server(tmp, "soak", runtime=_runtime(run)) as port:
            baseline = _baseline(port, key, clients["reviews"], args.baseline_seconds)
            samples, stop = [], threading.Event()
            sampler = threading.Thread(target=_sample, args=(port, samples, stop, args.every), daemon=True)
            sampler.start()
            soak = _soak(locust, port, tmp, args)
            stop.set()
            sampler.join()
        result = {
            "benchmark": "soak",
            "machine": common.machine(),
            "settings": {
                "minutes": args.minutes,
                "polite": args.polite,
                "abusive": args.abusive,
                "cache_mb": args.cache_mb,
                "quota_bytes": QUOTA,
                "runtime": _runtime(run),
            },
            "baseline": baseline,
            **soak,
            "samples": samples,
            "summary": _summary(baseline, soak, samples, args.cache_mb),
        }
    common.emit(result, args.out)


def _locust() -> Path:
    """locust in an environment of its own (kept beside the project's, keyed by its pins)."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:10]
    env = Path(sys.prefix) / f"soak-{pins}"
    program = env / "bin" / "locust"
    if not program.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
        pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    return program


class _cache_server:
    """A private redis-server for the cache, bounded and evicting as the compose stack's is."""

    def __init__(self, tmp: str, megabytes: int):
        self.tmp, self.megabytes = tmp, megabytes

    def __enter__(self) -> str:
        self.port = _free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxmemory", f"{self.megabytes}mb", "--maxmemory-policy", "allkeys-lru", "--dir", self.tmp],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: _redis_info(self.port) is not None, 10)
        return f"redis://127.0.0.1:{self.port}/0"

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


class _default_worker:
    """A Celery default worker with its beat (the sweep: retention, lost jobs), as the stack runs it."""

    def __init__(self, tmp: str):
        self.tmp = tmp

    def __enter__(self):
        command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "sweep,default", "--concurrency",
                   "1", "-B", "-n", "soak@%h", "--schedule", f"{self.tmp}/beat", "--loglevel", "WARNING"]  # fmt: skip
        self.log = open(f"{self.tmp}/worker.log", "w")
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(8)  # it connects and takes jobs once it is up; the first jobs wait meanwhile
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _database() -> str:
    """A PostgreSQL database of the soak's own where one answers (SQLite serialises every write), else SQLite."""
    url = os.environ.get("SOAK_DATABASE_URL", "")
    if url or not shutil.which("createdb"):
        return url or ""
    name = f"soak_{os.getpid()}"
    made = subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True)
    return f"postgres://postgres@127.0.0.1:5432/{name}" if made.returncode == 0 else ""


def _clients(args, tmp: str) -> dict:
    """The polite and abusive people, their keys, and the reviews they send, in the file locust reads."""
    from django.contrib.auth import get_user_model

    from sentiment.services.api_tokens import api_token_create
    from sentiment.services.classify import reviews_classify

    texts = imdb_reviews()["text"][:300]
    users = get_user_model().objects

    def person(name: str) -> dict:
        password = f"soak-{name}-pw-{os.getpid()}"
        user = users.create_user(name, password=password)
        # answers to ask explanations of: a few for a polite client, many for an abuser's flood (each new one
        # would be a job: the limits must keep the workers' queue short)
        answers = reviews_classify(user=user, texts=texts[: 60 if name.startswith("abuser") else 5])
        predictions = [answer.pk for answer in answers]
        key = api_token_create(user=user, name="soak")
        return {"username": name, "password": password, "key": key, "predictions": predictions}

    clients = {
        "reviews": texts,
        "polite": [person(f"polite{i}") for i in range(args.polite)],
        "abusive": [person(f"abuser{i}") for i in range(args.abusive)],
    }
    path = Path(tmp) / "clients.json"
    path.write_text(json.dumps(clients))
    os.environ["SOAK_CLIENTS"] = str(path)
    return clients


def _runtime(run) -> str:
    from sentiment.selectors.serving import training_run_serving_runtime

    return training_run_serving_runtime(run=run)


def _baseline(port: int, key: str, reviews: list[str], seconds: float) -> dict:
    """One client alone, one classification after another on one connection: the unloaded latency."""
    conn, times, started = http.client.HTTPConnection("127.0.0.1", port, timeout=30), [], time.monotonic()
    while time.monotonic() - started < seconds:
        sent = time.perf_counter()
        status, _ = post(port, "/api/v1/classify", {"text": reviews[len(times) % len(reviews)]}, key=key, conn=conn)
        if status == 200:
            times.append(time.perf_counter() - sent)
        time.sleep(1.0)  # the polite pace, within the key's rate
    conn.close()
    return latency_summary(times)


def _soak(locust: Path, port: int, tmp: str, args) -> dict:
    users = args.polite + args.abusive
    os.environ["SOAK_ABUSE_COUNTS"] = f"{tmp}/abuse.json"
    command = [str(locust), "-f", str(ROOT / "bench" / "soak_locust.py"), "--headless", "--host",
               f"http://127.0.0.1:{port}", "-u", str(users), "-r", str(users), "-t", f"{int(args.minutes * 60)}s",
               "--csv", f"{tmp}/locust", "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=args.minutes * 60 + 300)
    stats = _locust_stats(Path(f"{tmp}/locust_stats.csv"))
    failures = Path(f"{tmp}/locust_failures.csv").read_text() if Path(f"{tmp}/locust_failures.csv").exists() else ""
    abuse = json.loads(Path(f"{tmp}/abuse.json").read_text()) if Path(f"{tmp}/abuse.json").exists() else {}
    return {"locust_exit": done.returncode, "polite": stats["polite"], "abusive_answers": abuse,
            "abusive_requests": stats["abusive"], "failures": failures.splitlines()[1:][:50]}  # fmt: skip


def _locust_stats(path: Path) -> dict:
    import csv

    polite, abusive = {}, {}
    for row in csv.DictReader(path.read_text().splitlines()):
        if row["Name"] == "Aggregated":
            continue
        figures = {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                   "p50_ms": float(row["50%"]), "p95_ms": float(row["95%"])}  # fmt: skip
        (abusive if row["Name"].startswith("abuse:") else polite)[row["Name"]] = figures
    return {"polite": polite, "abusive": abusive}


def _sample(port: int, samples: list, stop: threading.Event, every: float) -> None:
    """Every ``every`` seconds: web workers' memory, both Redis servers', each person's stored bytes."""
    from django.db import close_old_connections
    from django.db.models import Sum

    from sentiment.models import AnalysisJob, CsvClassification

    master = _gunicorn_master(port)
    broker_port = int(os.environ["CELERY_BROKER_URL"].rsplit(":", 1)[1].split("/")[0])
    cache_port = int(os.environ["CACHE_URL"].rsplit(":", 1)[1].split("/")[0])
    started = time.monotonic()
    while not stop.wait(every):
        stored = CsvClassification.objects.values("user__username").annotate(n=Sum("stored_bytes"))
        samples.append({
            "seconds": round(time.monotonic() - started),
            "web_rss_mb": [w["rss_mb"] for w in worker_memory(master)["workers"]],
            "cache_used_mb": _mb(_redis_info(cache_port)),
            "broker_used_mb": _mb(_redis_info(broker_port)),
            "stored_bytes_max": max((row["n"] or 0 for row in stored), default=0),
            "analyses_waiting": AnalysisJob.objects.filter(status="queued").count(),
        })  # fmt: skip
        close_old_connections()


def _summary(baseline: dict, soak: dict, samples: list, cache_mb: int) -> dict:
    polite = soak["polite"]
    errors = sum(figures["failures"] for figures in polite.values())
    classify = polite.get("classify", {})
    web = [max(s["web_rss_mb"]) for s in samples if s["web_rss_mb"]]
    abuse = soak["abusive_answers"]
    refused = {kind: sum(n for status, n in counts.items() if status.startswith("4")) for kind, counts in abuse.items()}
    server_errors = sum(n for counts in abuse.values() for status, n in counts.items() if status.startswith("5"))
    return {
        "polite_requests": sum(figures["requests"] for figures in polite.values()),
        "polite_errors": errors,
        "polite_classify_p50_ms": classify.get("p50_ms"),
        "polite_classify_p95_ms": classify.get("p95_ms"),
        "baseline_p50_ms": baseline.get("p50_ms"),
        "baseline_p95_ms": baseline.get("p95_ms"),
        "abusive_refused_4xx": refused,
        "abusive_server_errors": server_errors,
        "web_rss_mb_first_last": [web[0], web[-1]] if web else None,
        "web_rss_mb_max": max(web, default=None),
        "cache_used_mb_max": max((s["cache_used_mb"] for s in samples), default=None),
        "cache_limit_mb": cache_mb,
        "broker_used_mb_max": max((s["broker_used_mb"] for s in samples), default=None),
        "stored_bytes_max": max((s["stored_bytes_max"] for s in samples), default=None),
        "quota_bytes": QUOTA,
        "targets_met": {
            "no_polite_errors": errors == 0,
            "abusers_refused_not_5xx": server_errors == 0,
            "cache_bounded": all(s["cache_used_mb"] <= cache_mb for s in samples),
            "stored_within_quota": all(s["stored_bytes_max"] <= QUOTA for s in samples),
        },
    }


def _gunicorn_master(port: int) -> int:
    found = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()
    masters = [int(line.split()[0]) for line in found if "gunicorn" in line and "webapp.wsgi" in line]
    return min(masters)  # the master started first


def _redis_info(port: int) -> dict | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"INFO memory\r\n")
            data = b""
            while b"used_memory:" not in data or not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    return dict(line.split(":", 1) for line in data.decode().splitlines() if ":" in line)


def _mb(info: dict | None) -> float | None:
    return round(int(info["used_memory"]) / 2**20, 1) if info and "used_memory" in info else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(ready, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError("a server of the soak did not start")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
