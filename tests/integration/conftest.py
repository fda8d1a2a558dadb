"""A real Redis and a real Celery worker process, sharing the test database with the test process."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database pytest-django created, for processes started by the tests."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def worker_environment(*, broker: str, runs_dir: Path, media_root: Path, **extra: str) -> dict:
    """What a worker started by a test needs: the test database, the broker, the test's own folders,
    frequent progress reports; ``extra`` settings on top."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "RUNS_DIR": str(runs_dir),
        "MEDIA_ROOT": str(media_root),
        "TRAINING_PROGRESS_INTERVAL": "0.5",
        **extra,
    }


class Worker:
    """One Celery worker process (solo pool: it trains each run in a child process, as in production)."""

    def __init__(self, env: dict, log: Path):
        self.env = env
        self.log = log
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.process = None

    def start(self) -> None:
        command = [
            *(sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "training,default,sweep"),
            *("--pool", "solo", "-n", self.name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"),
        ]
        with open(self.log, "ab") as log:  # the child keeps its own copy of the file descriptor
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while b"ready." not in self.log.read_bytes():
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not start within 60 s"
            time.sleep(0.3)

    def kill(self) -> None:
        """kill -9, as a crash or an OOM killer would."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float) -> int:
        """SIGTERM, as `docker compose stop` sends: Celery's warm shutdown. Returns the exit status."""
        self.process.terminate()
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(transactional_db, tmp_path, settings):
    """Start a worker (with extra environment variables if given); all are stopped after the test."""
    broker = settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).flushdb()  # a Redis database of the tests' own (see tests/conftest.py)
    settings.RUNS_DIR = tmp_path / "runs"
    settings.MEDIA_ROOT = tmp_path / "media"
    started = []

    def start(**extra_env: str) -> Worker:
        env = worker_environment(broker=broker, runs_dir=settings.RUNS_DIR, media_root=settings.MEDIA_ROOT, **extra_env)
        worker = Worker(env, tmp_path / f"worker-{len(started)}.log")
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(start_worker):
    return start_worker()
