"""The site as production serves it, for the benchmarks that ask it over HTTP: a run promoted in the
throw-away database (``common.throwaway_site``) with an API key, gunicorn with the project's config on a
free loopback port, a request to it, and its web workers' memory.

The rate limits are raised (``unlimited_rates``), not turned off: they still count in Redis, a cost every
request pays in production, but never refuse one of the benchmark's own requests.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT


def unlimited_rates() -> None:
    """Rate limits far above what the benchmark sends: they still count in Redis (a cost every request
    pays in production), but never refuse one of the benchmark's own requests."""
    for setting in ("RATE_LIMIT_API_KEY", "RATE_LIMIT_IP", "RATE_LIMIT_PERSON"):
        os.environ.setdefault(setting, "100000000/m")


def web_workers() -> int:
    return int(os.environ.get("WEB_WORKERS") or 2)  # as webapp/gunicorn.conf.py reads it


def promoted_run(model: str | Path, serving_check: dict | None = None):
    """A succeeded run for ``model`` (with its serving check, as training records it), promoted; an API key."""
    from django.contrib.auth import get_user_model

    from ml.serving.labeller import resolve_model_dir
    from sentiment.models import TrainingRun
    from sentiment.services.api_tokens import api_token_create
    from sentiment.services.promotions import training_run_promote

    model_dir = resolve_model_dir(model)
    saved = json.loads((model_dir / "training_config.json").read_text())
    metrics_file = model_dir.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    if serving_check:
        metrics["serving"] = serving_check
    run = TrainingRun.objects.create(
        config=saved,
        preset="bench",
        status=TrainingRun.Status.SUCCEEDED,
        output_dir=str(model_dir.parent),
        model_dir=str(model_dir),
        metrics=metrics,
    )
    user = get_user_model().objects.create_user("bench", is_staff=True)  # the API key is its credential
    training_run_promote(run=run, user=user, reason="served for the benchmark")
    return run, api_token_create(user=user, name="bench")


# The line each web worker logs once it has loaded the served model (sentiment.services.serving), "serving ...
# on RUNTIME (loaded in N s)", as a plain line or a JSON one (LOG_FORMAT)
SERVING_LINE = re.compile(
    r"sentiment\.services\.serving\W+(?:message\W+)?serving .* on ([\w-]+) \(loaded in ([\d.]+) s\)"
)


class server:
    """gunicorn with the project's config on a free loopback port, serving with ``runtime``.

    ``cores`` is ``WEB_CORES``: 0 shares the cores between the workers (``ml.core_share``), N fixes each
    answer at N cores. ``start`` returns once every worker has loaded the model, and records in
    ``startup`` the seconds from spawning gunicorn until its port answered and until every worker served.
    """

    def __init__(self, tmp: str, name: str, *, runtime: str, cores: int = 0):
        self.tmp, self.name, self.runtime, self.cores = tmp, name, runtime, cores
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> int:
        return self.start().port

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> server:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "SERVE_RUNTIME": self.runtime,
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "WEB_CORES": str(self.cores),
            "LOG_LEVEL": "INFO",  # each worker says when it has loaded the model (SERVING_LINE)
        }
        self.log_path = Path(self.tmp) / f"gunicorn-{self.name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed by stop(): the server outlives this call)
        spawned = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn.conf.py", "webapp.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        workers = web_workers()
        try:
            first_answer = self._wait(lambda: self._answers(), 180)
            all_loaded = self._wait(lambda: len(self._serving_lines()) >= workers, 180)
            lines = self._serving_lines()
            loaded = sorted({runtime for runtime, _ in lines})
            if loaded != [self.runtime]:
                raise RuntimeError(f"gunicorn ({self.name}) loaded {loaded}, not {self.runtime}")
        except BaseException:
            self.stop()  # a server that did not start is not left behind
            raise
        self.startup = {
            "seconds_until_port_answers": round(first_answer - spawned, 2),
            "seconds_until_every_worker_serves": round(all_loaded - spawned, 2),
            "workers": workers,
            "model_load_seconds_per_worker": [float(seconds) for _, seconds in lines],
            "runtime_loaded": loaded,
        }
        return self

    def _answers(self) -> bool:
        try:
            status, _ = post(self.port, "/healthz", None, method="GET")
            return status == 200
        except (OSError, http.client.HTTPException):
            return False

    def _serving_lines(self) -> list[tuple[str, str]]:
        return SERVING_LINE.findall(self.log_path.read_text(errors="replace"))

    def _wait(self, ready, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return time.perf_counter()
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log_path.read_text(errors="replace")[-2000:]  # the folder goes with the benchmark
        raise RuntimeError(f"gunicorn ({self.name}) did not start; the end of its log:\n{tail}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        if getattr(self, "log", None) is not None:
            self.log.close()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a gunicorn master's: its web workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the name in () may hold spaces
                children.append(int(entry.name))
    return sorted(children)


def worker_memory(master_pid: int) -> dict:
    """Each web worker's resident memory now (VmRSS) and at its peak (VmHWM), in MB, and which engines'
    shared libraries are mapped in it (libtorch: PyTorch was imported; onnxruntime)."""
    workers = []
    for pid in child_pids(master_pid):
        try:
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
            )
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue  # a worker that has just exited
        workers.append(
            {
                "pid": pid,
                "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
                "peak_rss_mb": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
                "torch_loaded": "libtorch" in maps,
                "onnxruntime_loaded": "onnxruntime" in maps,
            }
        )
    return {
        "workers": workers,
        "rss_mb_max": max((w["rss_mb"] for w in workers), default=None),
        "peak_rss_mb_max": max((w["peak_rss_mb"] for w in workers), default=None),
        "torch_loaded": any(w["torch_loaded"] for w in workers),
    }


def post(port: int, path: str, body: dict | None, *, key: str = "", method: str = "POST", conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if own:
        conn.close()
    return response.status, data
