"""Running a training run: the worker supervises, a child process trains.

The Celery task calls ``training_run_supervise``: it claims the run, starts ``manage.py train --run-id
N`` as a child process, and watches it. Training in a child means the worker survives an out-of-memory
crash, GPU memory is returned when every run ends, no CUDA is initialised in the worker (which forks),
and a cancel can always end the run, even in the middle of an evaluation. The child calls
``training_run_execute``, which runs ``ml.training.pipeline.train_model`` with an observer that writes progress
and a heartbeat to the database and stops training when the run's cancel flag is set.

The child is started with a "parent death signal": if the worker is killed (kill -9), the kernel kills
the child too, so a run is never trained by two processes at once.

A full disk, or a database that does not answer, is no reason to give a run up: a progress write the
database refuses is skipped (training goes on), and a child that stops on either exits with
``TEMPORARY_FAILURE``, which the supervisor records as an interruption: the run resumes from its last
checkpoint a little later, and fails with the reason only after ``TRAINING_MAX_ATTEMPTS`` of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Literal, NoReturn

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from ml.errors import MLError
from ml.hardware import detect_hardware, resolve_precision
from ml.training.pipeline import train_model
from ml.training.progress import Progress
from sentiment import jobs
from sentiment.models import TrainingRun
from sentiment.selectors.runs import training_run_config
from sentiment.services.runs import (
    training_run_claim,
    training_run_fail,
    training_run_finish,
    training_run_heartbeat,
    training_run_interrupt,
    training_run_record_log,
    training_run_record_progress,
)

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0
EXIT_AFTER_END_SECONDS = 30.0  # a training process that recorded its outcome has this long to exit by itself
TEMPORARY_FAILURE = 75  # the child's exit status for "try again later" (EX_TEMPFAIL in sysexits.h)
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The training process logs for people whatever LOG_FORMAT the worker has: its log is the run page's.
_TRAINING_ENVIRONMENT = {"LOG_FORMAT": "plain"}


class DatabaseObserver:
    """Writes each progress report to the run's row; asks to stop when the run's cancel flag is set or
    when ``worker`` no longer holds the run (it was handed to another while this one was cut off)."""

    def __init__(self, run_id: int, worker: str, device: str = "", precision: str = ""):
        self.run_id = run_id
        self.worker = worker
        self.device = device
        self.precision = precision
        self._stop = False

    def on_progress(self, progress: Progress) -> None:
        try:
            self._stop = training_run_record_progress(
                run_id=self.run_id, worker=self.worker, progress=progress, device=self.device, precision=self.precision
            )
        except DatabaseError as exc:  # a brief outage: this report is lost, the training is not
            logger.warning("run %s: progress not recorded, the database does not answer (%s)", self.run_id, exc)
            close_old_connections()  # the next report opens a new connection

    def should_stop(self) -> bool:
        return self._stop


def training_run_execute(*, run_id: int, progress_bar: bool = False) -> TrainingRun:
    """Train a claimed (RUNNING) run in this process and store the outcome.

    Under torchrun (several processes, one per GPU) every process trains; only the first one (rank 0)
    reports progress and writes the outcome, and each one dies with torchrun if torchrun is killed.
    """
    rank = int(os.environ.get("RANK", "0"))
    if "LOCAL_RANK" in os.environ:
        _die_with_parent()
    if rank != 0:
        config = training_run_config(run=TrainingRun.objects.get(pk=run_id))
        train_model(config, imdb_dir=settings.IMDB_DATA_DIR, progress_bar=False)
        return TrainingRun.objects.get(pk=run_id)
    run = TrainingRun.objects.get(pk=run_id)
    if run.status != TrainingRun.Status.RUNNING:
        raise MLError(f"run {run_id} is {run.status}, not running: the worker claims a run before training it")
    worker = run.worker  # every write below is conditional on that worker still holding the run
    try:
        config = training_run_config(run=run)
        hardware = detect_hardware()
        precision = resolve_precision(config.precision, hardware)
        observer = DatabaseObserver(run_id, worker, device=hardware.describe(), precision=precision)
        result = train_model(
            config,
            imdb_dir=settings.IMDB_DATA_DIR,
            observer=observer,
            progress_bar=progress_bar,
            observer_interval=settings.TRAINING_PROGRESS_INTERVAL,
        )
        # minutes may have passed without a query (the serving check after the last step): as at the start
        # of a request, the connection is checked (CONN_HEALTH_CHECKS) and opened again if the database
        # dropped it meanwhile, instead of the outcome's write failing on it
        close_old_connections()
        return training_run_finish(run_id=run_id, worker=worker, result=result)
    except MLError as exc:
        training_run_fail(run_id=run_id, worker=worker, error=str(exc))
        raise
    except KeyboardInterrupt:
        training_run_fail(run_id=run_id, worker=worker, error="interrupted from the keyboard", cancelled=True)
        raise
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, DatabaseError) or getattr(exc, "errno", None) in _DISK_FULL:
            _stop_for_now(run_id=run_id, worker=worker, reason=reason)
        training_run_fail(run_id=run_id, worker=worker, error=reason)
        raise


def _stop_for_now(*, run_id: int, worker: str, reason: str) -> NoReturn:
    """A temporary failure: the run is interrupted, to resume from its last checkpoint a little later."""
    logger.error("run %s stopped on a temporary failure (%s): it resumes later from its checkpoint", run_id, reason)
    close_old_connections()
    with contextlib.suppress(DatabaseError):  # the database is away: the supervisor, or the sweep, records it
        training_run_interrupt(run_id=run_id, worker=worker, reason=reason)
    raise SystemExit(TEMPORARY_FAILURE)


def training_run_supervise(*, run_id: int, worker: str, stopping: Callable[[], bool] = lambda: False) -> str:
    """Claim the run and train it in a child process; returns the run's final status.

    ``stopping`` says the worker is shutting down (a deploy, a recreated container): the child is ended
    and the run handed back, INTERRUPTED and queued again, so the next worker resumes it from its last
    checkpoint at once instead of this one training on until it is killed.
    """
    if not training_run_claim(run_id=run_id, worker=worker):
        logger.info("run %s is not claimable (taken, cancelled or finished): nothing to do", run_id)
        return "skipped"
    run = TrainingRun.objects.get(pk=run_id)
    log_path = Path(run.output_dir) / "train.log"
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 (closed below, after the child ends)
    except OSError as exc:  # a full disk, an unwritable or missing folder: tried again, a bounded number of times
        logger.warning("run %s cannot start: %s", run_id, exc)
        reason = f"cannot write {log_path}: {exc.strerror}"
        training_run_interrupt(run_id=run_id, worker=worker, reason=reason)
        run.refresh_from_db()
        return run.status
    with log:
        child = subprocess.Popen(
            _training_command(run_id), stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            cwd=settings.BASE_DIR, env={**os.environ, **_TRAINING_ENVIRONMENT},
        )  # fmt: skip
        exit_code, cancelled, outcome = _watch(child, run_id, worker, log_path, stopping)
    training_run_record_log(run_id=run_id, log_tail=_tail(log_path))
    if outcome == "handed back":  # RUNNING -> INTERRUPTED and queued again at once, resuming elsewhere
        if training_run_interrupt(run_id=run_id, worker=worker, reason="its worker was stopped", give_up=False):
            jobs.job_enqueue(name=jobs.TRAIN_RUN, object_id=run_id)
    elif outcome == "exited" and exit_code == TEMPORARY_FAILURE:  # resumed later, a bounded number of times
        training_run_interrupt(run_id=run_id, worker=worker, reason=_explain_exit(exit_code, log_path))
    elif outcome == "exited":  # the child records its outcome; if it could not, it was killed or crashed
        training_run_fail(run_id=run_id, worker=worker, error=_explain_exit(exit_code, log_path), cancelled=cancelled)
    run.refresh_from_db()
    return run.status


def _training_command(run_id: int) -> list[str]:
    """``manage.py train --run-id N``; under torchrun (data-parallel) when TRAINING_PROCESSES > 1."""
    train = [str(Path(settings.BASE_DIR) / "manage.py"), "train", "--run-id", str(run_id)]
    processes = settings.TRAINING_PROCESSES
    if processes <= 1:
        return [sys.executable, *train]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", *train]


def _watch(
    child: subprocess.Popen, run_id: int, worker: str, log_path: Path, stopping: Callable[[], bool]
) -> tuple[int, bool, Literal["exited", "handed back", "lost"]]:
    """Heartbeat while the child lives; end it if a cancel is not honoured within the grace period, when
    the worker is stopping ("handed back"), or when this worker no longer holds the run ("lost": it was
    paused or cut off long enough for the sweep to give the run to another). A database that does not
    answer for a while leaves the child training and watched. Returns the exit code, whether a cancel
    was seen, and how it ended."""
    cancel_seen_at = None
    last_log = 0.0
    while child.poll() is None:
        if stopping():
            logger.info("worker shutting down: ending run %s's training; it resumes on the next worker", run_id)
            _stop(child)
            return child.returncode, False, "handed back"
        try:
            lease = training_run_heartbeat(run_id=run_id, worker=worker)
            if time.monotonic() - last_log > 5:
                training_run_record_log(run_id=run_id, log_tail=_tail(log_path))
                last_log = time.monotonic()
        except DatabaseError as exc:
            logger.warning("run %s: the database does not answer (%s); still watching the training", run_id, exc)
            close_old_connections()
            lease = "held"
        if lease == "ended":  # the child wrote the outcome and is exiting: let it, within the grace period
            _wait_or_stop(child, run_id)
            break
        if lease == "lost":
            logger.warning("run %s is no longer held by %s: ending this copy of its training", run_id, worker)
            _stop(child)
            return child.returncode, False, "lost"
        now = time.monotonic()
        if lease == "cancel" and cancel_seen_at is None:
            cancel_seen_at = now
        if cancel_seen_at is not None and now - cancel_seen_at > settings.TRAINING_CANCEL_GRACE:
            logger.info("run %s did not stop by itself after a cancel: terminating it", run_id)
            _stop(child)
        time.sleep(POLL_SECONDS)
    return child.returncode, cancel_seen_at is not None, "exited"


def _wait_or_stop(child: subprocess.Popen, run_id: int) -> None:
    """The run has ended; its training process should exit by itself in a moment (saving, freeing memory)."""
    try:
        child.wait(timeout=EXIT_AFTER_END_SECONDS)
    except subprocess.TimeoutExpired:
        logger.warning("run %s has ended but its training process has not exited: ending it", run_id)
        _stop(child)


def _stop(child: subprocess.Popen) -> None:
    child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL us when the worker dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError):  # not Linux: the heartbeat timeout still marks the run interrupted
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _tail(path: Path, lines: int = 60) -> str:
    """The last lines of the log, without terminal colour codes."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return _ANSI.sub("", "".join(deque(handle, maxlen=lines)))
    except OSError:
        return ""


def _explain_exit(code: int, log_path: Path) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the training process was killed by {name}{hint}"
    reason = next((line for line in reversed(_tail(log_path).splitlines()) if "Error" in line), "")
    return f"the training process exited with status {code}: {reason}".strip()
