"""Every write to the database goes through here.

Training runs move QUEUED -> RUNNING -> SUCCEEDED / FAILED / CANCELLED, with INTERRUPTED when the
worker running them died (they resume from their last checkpoint). Each transition is one conditional
UPDATE, so two processes can never both move the same run, and a task delivered twice does nothing the
second time.

Who may do what is decided before these are called, by ``sentiment.permissions`` at the pages and the
admin; the services trust their caller.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ml.config import TrainingConfig
from ml.presets import config_from_preset
from ml.results import RESULTS_FILE, RunResults, ServingCheck, results_read, results_write
from ml.training.progress import Progress
from sentiment import jobs
from sentiment.models import TrainingRun
from sentiment.selectors.feedback import corrections_folder
from sentiment.selectors.runs import training_run_resumable, training_runs_with_model
from sentiment.selectors.serving import served_version
from sentiment.services.feedback import corrections_snapshot
from sentiment.services.promotions import WHEN_DONE_REASON, training_run_promote

logger = logging.getLogger(__name__)
Status = TrainingRun.Status
HISTORY_LIMIT = 2000  # log entries kept on the run row; the full history is in the output folder
PROGRESS_FIELDS = ("step", "max_steps", "epoch", "loss", "learning_rate", "eta_seconds")  # same names on both


def training_run_create(
    *,
    user,
    config: TrainingConfig,
    preset: str,
    launched_from: str = "admin",
    promote_when_done: bool = False,
    enqueue: bool = True,
    estimate: dict | None = None,
    teacher: TrainingRun | None = None,
) -> TrainingRun:
    """Store a QUEUED run and, once the transaction commits, queue it for a worker.

    Without an output folder in ``config`` the run gets ``RUNS_DIR/run-<id>-<random>``: after the database
    is reset, a new run #1 must not resume the checkpoints of the old one. ``launched_from`` is
    recorded for the admin's filter; ``enqueue=False`` leaves the run for the caller to train itself
    (``manage.py train``). ``estimate`` is what the launch form expected
    (``sentiment.selectors.estimates``), kept to set beside what the run took; ``teacher`` is the run a
    distilled student learns from (``sentiment.services.distillation``).
    """
    if config.corrections_file and Path(config.corrections_file).parent == corrections_folder():
        config = config.replace(corrections_file=corrections_snapshot())  # the site's set, saved now
    with transaction.atomic():
        run = TrainingRun.objects.create(
            preset=preset,
            config=config.to_dict(),
            created_by=user,
            launched_from=launched_from,
            promote_when_done=promote_when_done,
            estimate=estimate or {},
            teacher=teacher,
        )
        run.output_dir = config.output_dir or str(Path(settings.RUNS_DIR) / f"run-{run.pk}-{uuid.uuid4().hex[:8]}")
        run.config = config.replace(output_dir=run.output_dir).to_dict()
        run.save(update_fields=["output_dir", "config"])
        if enqueue:
            jobs.job_enqueue(name=jobs.TRAIN_RUN, object_id=run.pk)
    return run


def first_model_ensure(*, user) -> TrainingRun | None:
    """Make sure a model will be served: the run that will provide it, or None when one is served.

    With nothing served, the run already under way that is to be promoted when it succeeds, else a new
    offline ``smoke`` run (bundled model and reviews: no network needed) promoted when it succeeds.
    """
    if served_version() is not None:
        return None
    pending = TrainingRun.objects.filter(status__in=TrainingRun.ACTIVE, promote_when_done=True).order_by("pk")
    return pending.first() or training_run_create(
        user=user, config=config_from_preset("smoke"), preset="smoke", promote_when_done=True
    )


def training_run_claim(*, run_id: int, worker: str) -> bool:
    """QUEUED/INTERRUPTED -> RUNNING in one UPDATE; False when someone else has it (or it ended)."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, status__in=TrainingRun.CLAIMABLE, cancel_requested=False).update(
        status=Status.RUNNING, heartbeat_at=now, worker=worker, error=""
    )
    if claimed:
        TrainingRun.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=now)
    return bool(claimed)


def training_run_heartbeat(*, run_id: int, worker: str) -> Literal["held", "cancel", "ended", "lost"]:
    """Say the run is alive, if ``worker`` still holds it. "ended": it finished on this worker (its
    training process recorded the outcome and is exiting): nothing to stop. "lost": another worker has it,
    or the sweep took it back while this one was paused or cut off: stop training it."""
    held = _held(run_id=run_id, worker=worker)
    if held.update(heartbeat_at=timezone.now()):
        return "cancel" if held.filter(cancel_requested=True).exists() else "held"
    ended = TrainingRun.objects.filter(pk=run_id, worker=worker).exclude(status__in=TrainingRun.ACTIVE).exists()
    return "ended" if ended else "lost"


def training_run_record_progress(
    *, run_id: int, worker: str, progress: Progress, device: str = "", precision: str = ""
) -> bool:
    """Store a progress report (the caller bounds the rate); returns whether training should stop: a
    cancel was asked for, or ``worker`` no longer holds the run."""
    run = TrainingRun.objects.only("history", "cancel_requested").get(pk=run_id)
    history = (run.history + [_plain(entry) for entry in progress.history])[-HISTORY_LIMIT:]
    fields = {name: getattr(progress, name) for name in PROGRESS_FIELDS}
    now = timezone.now()
    fields.update(history=history, heartbeat_at=now, eta_at=now)
    if device:
        fields.update(device=device, precision=precision)
    held = _held(run_id=run_id, worker=worker).update(**fields)
    return run.cancel_requested or not held


def training_run_record_log(*, run_id: int, log_tail: str) -> None:
    TrainingRun.objects.filter(pk=run_id).update(log_tail=log_tail[-8000:])


def training_run_finish(*, run_id: int, worker: str, result) -> TrainingRun:
    """Store the outcome of ``ml.training.pipeline.train_model``: SUCCEEDED, or CANCELLED when it was stopped;
    nothing when ``worker`` no longer holds the run.

    A run to be promoted when done is SUCCEEDED and served in one transaction: nobody sees one without
    the other. A model that cannot be served leaves the run SUCCEEDED, with the reason in its error.
    """
    status = Status.CANCELLED if result.stopped else Status.SUCCEEDED
    results = result.results
    with transaction.atomic():
        _held(run_id=run_id, worker=worker).update(
            status=status,
            finished_at=timezone.now(),
            metrics=_plain(results.to_json()),
            model_dir=result.model_dir or "",
            last_checkpoint=result.last_checkpoint or "",
            device=results.device or "",
            precision=results.precision or "",
            step=F("step") if results.train.steps is None else results.train.steps,
        )
        run = TrainingRun.objects.get(pk=run_id)
        if run.status == Status.SUCCEEDED and run.promote_when_done and not run.promotions.exists():
            try:
                with transaction.atomic():
                    training_run_promote(run=run, user=run.created_by, reason=WHEN_DONE_REASON)
            except ValidationError as exc:
                run.error = "Not served: " + " ".join(exc.messages)
                run.save(update_fields=["error"])
    return run


def training_runs_record_serving_check(*, model_dir: Path, check: dict) -> list[int]:
    """Store a serving check made after the fact (``manage.py export_onnx``) with the runs whose model is
    ``model_dir``, and in their metrics.json; returns their ids. A web process serving one of them
    chooses its runtime again at the next promotion or restart."""
    runs = training_runs_with_model(model_dir=model_dir)
    serving = ServingCheck.from_json(_plain(check))
    for run in runs:
        results = RunResults.from_json(run.metrics)
        results.serving = serving
        TrainingRun.objects.filter(pk=run.pk).update(metrics=results.to_json())
    results_file = model_dir.parent / RESULTS_FILE
    if results_file.is_file():
        results = results_read(results_file)
        results.serving = serving
        results_write(results_file, results)
    return [run.pk for run in runs]


def training_run_fail(*, run_id: int, worker: str, error: str, cancelled: bool = False) -> None:
    """End a run that did not finish normally (an error, a killed process, or a cancel that had to kill),
    if ``worker`` still holds it."""
    _held(run_id=run_id, worker=worker).update(
        status=Status.CANCELLED if cancelled else Status.FAILED,
        finished_at=timezone.now(),
        error=error[:5000],
    )


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Queued runs end at once; a running run is asked to stop (the worker ends it within seconds)."""
    now = timezone.now()
    TrainingRun.objects.filter(pk=run.pk, status__in=TrainingRun.CLAIMABLE).update(
        status=Status.CANCELLED, cancel_requested=True, finished_at=now
    )
    TrainingRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(cancel_requested=True)
    run.refresh_from_db()
    return run


def training_run_resume(*, run: TrainingRun) -> TrainingRun:
    """Queue a FAILED run again, to go on from its last complete checkpoint (staff fixed what broke it: freed
    the disk, made its folder writable). Its attempts start again from zero; the checkpoint is required,
    so that nothing is trained again from scratch by surprise."""
    if not training_run_resumable(run=run):
        raise ValidationError(f"{run} cannot be resumed: only a failed run with a complete checkpoint can.")
    with transaction.atomic():
        resumed = TrainingRun.objects.filter(pk=run.pk, status=Status.FAILED).update(
            status=Status.QUEUED, faults=0, error="", finished_at=None, worker="", cancel_requested=False
        )
        if resumed:
            jobs.job_enqueue(name=jobs.TRAIN_RUN, object_id=run.pk)
    run.refresh_from_db()
    return run


def training_runs_recover(*, worker: str | None = None, stale_after: timedelta | None = None) -> list[int]:
    """Mark runs whose worker died as INTERRUPTED and queue them again; they resume from a checkpoint.

    A run is taken as orphaned when its heartbeat is older than ``stale_after``, or when it was running
    on ``worker`` (a worker that is just starting cannot be running anything yet). An INTERRUPTED run
    that nobody has claimed for ``stale_after`` is queued again too: its message may have been lost (the
    broker went away as it was handed back). A run queued twice is claimed once.
    """
    if stale_after is None:
        stale_after = timedelta(seconds=settings.TRAINING_HEARTBEAT_TIMEOUT)
    now = timezone.now()
    running = TrainingRun.objects.filter(status=Status.RUNNING)
    candidates = set(running.filter(heartbeat_at__lt=now - stale_after).values_list("pk", flat=True))
    if worker:
        candidates |= set(running.filter(worker=worker).values_list("pk", flat=True))
    recovered = []
    for run_id in sorted(candidates):
        if training_run_interrupt(run_id=run_id, reason="its worker stopped (no heartbeat, or it restarted)"):
            recovered.append(run_id)
    # an interrupted run cancelled meanwhile is never claimed again: it ends here (and one left so by an
    # earlier version, which queued it every minute for ever)
    TrainingRun.objects.filter(status=Status.INTERRUPTED, cancel_requested=True).update(
        status=Status.CANCELLED, finished_at=now
    )
    waiting = TrainingRun.objects.filter(status=Status.INTERRUPTED, heartbeat_at__lt=now - stale_after)
    for run_id in waiting.values_list("pk", flat=True):
        if TrainingRun.objects.filter(pk=run_id, status=Status.INTERRUPTED).update(heartbeat_at=now):
            logger.warning("run %s has waited %s to resume; queued again", run_id, stale_after)
            recovered.append(run_id)
    for run_id in recovered:
        jobs.job_enqueue(name=jobs.TRAIN_RUN, object_id=run_id)
    return sorted(recovered)


def training_run_interrupt(*, run_id: int, reason: str, worker: str | None = None, give_up: bool = True) -> bool:
    """RUNNING -> INTERRUPTED (to resume from its last checkpoint), or FAILED once it has been interrupted
    ``TRAINING_MAX_ATTEMPTS`` times: a run that breaks the same way each time (an unwritable folder) must
    end with its reason, not be retried for ever. A worker handing a run back as it is stopped (a deploy)
    is no fault: ``give_up=False``. Only by ``worker`` when given (it must still hold the run). Returns
    whether the run is to be queued again."""
    running = _held(run_id=run_id, worker=worker)
    now = timezone.now()
    if running.filter(
        cancel_requested=True
    ).update(  # asked to stop: it ends, it is not trained again
        status=Status.CANCELLED, finished_at=now, error=f"Cancelled (it had not stopped yet when {reason})"[:5000]
    ):
        logger.info("run %s was cancelled and %s: it ends cancelled", run_id, reason)
        return False
    attempts = settings.TRAINING_MAX_ATTEMPTS
    given_up = give_up and running.filter(faults__gte=attempts - 1).update(
        status=Status.FAILED,
        finished_at=now,
        interruptions=F("interruptions") + 1,
        faults=F("faults") + 1,
        error=f"Interrupted {attempts} times; gave up. The last time: {reason}"[:5000],
    )
    if given_up:
        logger.error("run %s interrupted %s times (%s): failed", run_id, attempts, reason)
        return False
    moved = running.update(
        status=Status.INTERRUPTED,
        interruptions=F("interruptions") + 1,
        faults=F("faults") + (1 if give_up else 0),  # a hand-back is no fault
        heartbeat_at=now,
        error=f"Interrupted: {reason}"[:5000] if give_up else "",
    )
    if moved:
        logger.warning("run %s interrupted (%s); it resumes from its last checkpoint", run_id, reason)
    return bool(moved)


def _held(*, run_id: int, worker: str | None):
    """The run, while it is RUNNING on ``worker`` (on any worker when None): every write of whoever
    trains it goes through this, so a worker that lost its run changes nothing."""
    running = TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING)
    return running.filter(worker=worker) if worker else running


def _plain(data):
    """JSON-safe copy (numpy floats and dataclasses become plain Python)."""
    if hasattr(data, "__dataclass_fields__"):
        data = asdict(data)
    return json.loads(json.dumps(data, default=str))
