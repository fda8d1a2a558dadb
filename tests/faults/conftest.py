"""A whole back end to break: a Redis of the suite's own (so that it can be stopped), a beat sending the
sweep every second, default and training workers, all real processes on the test database. The test
process plays the web site (Django's test client), sending its jobs to that Redis.

Each process runs in a session of its own, so a test can kill, pause or resume it with everything it
started (the default worker's pool processes, the training worker's child), as a crash, the OOM killer
or a frozen virtual machine would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from tests.brokers import broker_used, free_port
from tests.integration.conftest import worker_environment
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT = 4  # seconds: the runs' and CSV jobs' leases, short so that the sweep acts quickly
REPORT: list[str] = []  # "what was lost" of each test, printed at the end of the run


class Process:
    """One process of the back end, with its log; ``ready`` is the line it prints once it serves."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path, ready: str):
        self.name, self.command, self.env, self.log, self.ready = name, command, env, log, ready
        self.process: subprocess.Popen | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(lambda: self.ready in self.log.read_text(errors="replace") or self.process.poll() is not None,
                 90, f"{self.name} to start")  # fmt: skip
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, sig: signal.Signals) -> None:
        """To the process and everything it started (its process group)."""
        os.killpg(self.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGCONT)  # a paused process cannot stop
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


class Backend:
    """What ``backend`` starts and how a test breaks it."""

    def __init__(self, folder: Path, env: dict, redis_server: Process):
        self.folder, self.env, self.redis = folder, env, redis_server
        self.processes: list[Process] = [redis_server]

    def _start(self, name: str, command: list[str], ready: str) -> Process:
        process = Process(name, command, self.env, self.folder / f"{name}.log", ready).start()
        self.processes.append(process)
        return process

    # Each worker has a name of its own: one coming back under the same name would hand its jobs back
    # at once, and these tests are about the workers that never come back.

    def default_worker(self) -> Process:
        """CSV files and the sweep, with a pool of two processes, as in the compose stack."""
        name = f"default-{uuid.uuid4().hex[:6]}"
        command = [*celery("worker", "-Q", "sweep,default", "--concurrency", "2"), "-n", f"{name}@faults"]
        return self._start(name, command, "ready.")

    def training_worker(self) -> Process:
        name = f"training-{uuid.uuid4().hex[:6]}"
        command = [*celery("worker", "-Q", "training", "--pool", "solo"), "-n", f"{name}@faults"]
        return self._start(name, command, "ready.")

    def beat(self) -> Process:
        return self._start("beat", [*celery("beat"), "--schedule", str(self.folder / "beat-schedule")], "Starting...")

    def redis_stop(self) -> None:
        self.redis.process.terminate()  # Redis writes its append-only file and exits
        self.redis.process.wait(timeout=20)

    def redis_start(self) -> None:
        self.redis.start()

    def restart_exited(self) -> list[str]:
        """Start again, under the same name, each worker that exited by itself, as the compose stack's
        restart policy does. (A worker may exit when Redis goes away: kombu 5.7 fails to put back the
        message of the task it is running, on a connection already closed, and calls that unrecoverable.)"""
        exited = [p for p in self.processes if p is not self.redis and p.process.poll() is not None]
        for process in exited:
            process.start()
        return [process.name for process in exited]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def celery(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "worker", *arguments, "--loglevel", "INFO"]


@pytest.fixture
def backend(transactional_db, tmp_path, settings):
    """Redis (append-only, as in the compose stack: what it held survives a restart), the beat, and no
    worker yet: each test starts the ones it breaks. On PostgreSQL only, as in production: several
    processes writing one SQLite file at once is not how the product runs."""
    if connection.vendor != "postgresql":
        pytest.skip("the fault suite runs on PostgreSQL (make test runs it there, after the SQLite pass)")
    port = free_port()
    (tmp_path / "redis").mkdir()
    redis_server = Process(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--save", "",
         "--dir", str(tmp_path / "redis")],
        dict(os.environ), tmp_path / "redis.log", "Ready to accept connections",
    ).start()  # fmt: skip
    broker = f"redis://127.0.0.1:{port}/0"
    settings.RUNS_DIR = tmp_path / "runs"
    settings.MEDIA_ROOT = tmp_path / "media"
    env = worker_environment(
        broker=broker,
        runs_dir=settings.RUNS_DIR,
        media_root=settings.MEDIA_ROOT,
        TRAINING_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
        CSV_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT),
        SWEEP_INTERVAL="1",
    )
    stack = Backend(tmp_path, env, redis_server)
    try:
        with broker_used(broker):
            stack.beat()
            yield stack
    finally:
        stack.stop()
        redis.Redis.from_url(broker).connection_pool.disconnect()
        for process in stack.processes:  # pytest shows this only for a test that failed
            print(f"----- {process.name}: the end of its log -----\n{process.log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def lost(request):
    """``lost("nothing: ...")`` records what a test's fault cost, printed at the end of the run."""

    def record(what: str) -> None:
        REPORT.append(f"{request.node.name}: lost {what}")

    return record


def pytest_terminal_summary(terminalreporter):
    if REPORT:
        terminalreporter.section("faults caused, and what they cost")
        for line in REPORT:
            terminalreporter.write_line(line)


def processes_with(text: str) -> list[tuple[int, int]]:
    """(pid, parent pid) of every process whose command line contains ``text``. ``-ww``: whole command
    lines, whatever COLUMNS says (cut at 80 characters, a long checkout path hid the run's id)."""
    listed = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    return [(int(pid), int(ppid)) for pid, ppid, args in (line.split(None, 2) for line in listed.splitlines())
            if text in args and "ps -eo" not in args]  # fmt: skip


@pytest.fixture
def served_run(trained_tiny_run, django_user_model):
    """The tiny model, trained once per session, promoted: what the CSV jobs classify with."""
    from ml.config import TrainingConfig
    from sentiment.models import TrainingRun

    run = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="tiny").to_dict(), status=TrainingRun.Status.SUCCEEDED,
        model_dir=trained_tiny_run.model_dir, output_dir=trained_tiny_run.output_dir,
    )  # fmt: skip
    run.promotions.create()
    return run


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("boss", password="pw", is_staff=True))
    return client
