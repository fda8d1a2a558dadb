"""CSV files of reviews, classified by the worker a slice at a time, under a lease.

A job is QUEUED -> RUNNING (one slice) -> QUEUED (its next slice, behind every other job waiting) -> ...
-> SUCCEEDED or FAILED. Why slices: a worker holds no job for longer than one slice, so a person's
50,000-row file takes turns with everybody else's instead of making them wait for it, and a worker
killed mid-file loses one slice at most: each finished slice is stored as a part file, listed on the
row, and the job resumes after its last part. The result is the header plus the parts, joined once all
are done, so every row is in it once, whatever happened on the way.

Like a training run, a job is held through a lease: the worker that claimed it (``worker``) writes a
heartbeat with its progress, and every write is conditional on still holding it. A job whose heartbeat
went stale is handed back by the sweep (``csv_classifications_recover``) and fails, with the reason,
once its worker was lost ``CSV_MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import tempfile
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from ml.errors import without_paths
from ml.hardware import cpu_cores
from ml.serving.inference import predictor_cache
from ml.serving.labeller import Labeller
from sentiment import jobs
from sentiment.files.csv_files import ADDED_COLUMNS, csv_cells_neutralise, csv_rows_count, csv_table_open
from sentiment.metrics.families import csv_rows_classified_count
from sentiment.models import CsvClassification
from sentiment.selectors.serving import served_model, training_run_serving_runtime
from sentiment.services.serving import NoModelServed, serving_slot
from sentiment.services.storage import storage_quota_check

logger = logging.getLogger(__name__)
Status = CsvClassification.Status
CSV_CHUNK = 2048  # rows tokenized and sorted by length together (bounds the memory of a large file)
CSV_PROGRESS_ROWS = 128  # rows classified between two progress updates (each one is also a heartbeat)
CSV_BATCH = 8  # small batches: on a CPU they were faster per review than 64 (bench/RESULTS.md)


class _LeaseLost(Exception):
    """This worker no longer holds the job (the sweep gave it to another while this one was cut off)."""


def csv_classification_create(*, user, upload) -> CsvClassification:
    """Check an uploaded CSV (size, encoding, columns, every row) and queue it for the worker.

    The upload is read as a stream and nothing of it is kept (``csv_files``): a web worker's memory
    does not grow with the file, and a file past a limit is refused as soon as the limit is passed.
    It is stored as it was sent. A person may have at most ``MAX_QUEUED_CSV_ROWS`` reviews waiting.
    """
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is larger than {settings.MAX_UPLOAD_BYTES // 2**20} MB.")
    total_rows = csv_rows_count(binary=upload)
    waiting = _rows_waiting(user=user)
    if waiting + total_rows > settings.MAX_QUEUED_CSV_ROWS:
        raise ValidationError(
            f"You have {waiting:,} reviews waiting to be classified; with this file's {total_rows:,} that would "
            f"pass the limit of {settings.MAX_QUEUED_CSV_ROWS:,}. Upload it once your other files are done."
        )
    if served_model() is None:
        raise NoModelServed()
    # the result's bytes are reserved at once, and the person's uploads are checked one at a time: files sent
    # together, or results written later, can never add up past the quota
    reserved = upload.size + _result_bytes_expected(upload.size, total_rows)
    with transaction.atomic():
        storage_quota_check(user=user, adding=reserved)
        job = CsvClassification(user=user, filename=upload.name[:255], total_rows=total_rows, stored_bytes=reserved)
        job.upload.save(upload.name, upload, save=False)
        job.save()
        jobs.job_enqueue(name=jobs.CLASSIFY_CSV, object_id=job.pk)
    return job


def csv_classification_process(*, job_id: int, worker: str = "local") -> str:
    """Worker side: claim the job, classify its next slice, then queue the rest or join the result.

    Returns "succeeded", "failed", "continued" (its next slice is queued), "skipped" (not claimable:
    taken by another worker, or ended) or "lost" (the lease went to another worker mid-slice).
    """
    if not _claim(job_id=job_id, worker=worker):
        return "skipped"
    job = CsvClassification.objects.get(pk=job_id)
    held = CsvClassification.objects.filter(pk=job_id, status=Status.RUNNING, worker=worker)
    try:
        parts = [*job.parts, _slice_classify(job=job, held=held, predictor=_job_predictor(job=job))]
        csv_rows_classified_count(rows=parts[-1]["rows"])
        done = _rows_in(parts)
        if done < job.total_rows:
            # dispatched_at is emptied until the next slice is sent: if this worker dies in between, the
            # sweep sends it (``queued_jobs_resend``)
            if not held.update(status=Status.QUEUED, worker="", parts=parts, done_rows=done, dispatched_at=None):
                raise _LeaseLost()
            jobs.job_enqueue(name=jobs.CLASSIFY_CSV, object_id=job_id)
            return "continued"
        result = _result_join(job=job, parts=parts)
        stored = job.upload.size + default_storage.size(result)
        finished = {
            "result": result,
            "parts": [],
            "done_rows": done,
            "finished_at": timezone.now(),
            "stored_bytes": stored,
        }
        if not held.update(status=Status.SUCCEEDED, **finished):
            default_storage.delete(result)
            raise _LeaseLost()
        _parts_delete(job_id)
    except _LeaseLost:
        logger.warning("CSV classification %s is no longer held by %s: this copy stops", job_id, worker)
        return "lost"
    except Exception as exc:
        logger.exception("CSV classification %s failed", job_id)
        if held.update(status=Status.FAILED, error=_reason(exc)[:2000], finished_at=timezone.now()):
            _parts_delete(job_id)
        return "failed"
    return "succeeded"


def csv_classifications_recover(*, worker: str | None = None) -> list[int]:
    """Hand back the jobs whose worker died (heartbeat older than ``CSV_HEARTBEAT_TIMEOUT``, or held by
    ``worker``, which is just starting), to resume after their last finished slice; a job whose worker
    was lost ``CSV_MAX_ATTEMPTS`` times fails with that reason instead."""
    now = timezone.now()
    running = CsvClassification.objects.filter(status=Status.RUNNING)
    stale = running.filter(heartbeat_at__lt=now - timedelta(seconds=settings.CSV_HEARTBEAT_TIMEOUT))
    orphans = stale | running.filter(worker=worker) if worker else stale
    attempts, recovered = settings.CSV_MAX_ATTEMPTS, []
    for job in orphans.only("pk", "parts", "worker"):
        lost = running.filter(pk=job.pk, worker=job.worker)
        if lost.filter(faults__gte=attempts - 1).update(
            status=Status.FAILED,
            faults=F("faults") + 1,
            finished_at=now,
            error=f"Its worker stopped {attempts} times while classifying it; gave up.",
        ):
            logger.error("CSV classification %s lost its worker %s times: failed", job.pk, attempts)
            _parts_delete(job.pk)
            continue
        done = _rows_in(job.parts)
        if lost.update(status=Status.QUEUED, worker="", faults=F("faults") + 1, done_rows=done, dispatched_at=None):
            logger.warning("CSV classification %s lost its worker; it resumes after row %s", job.pk, done)
            recovered.append(job.pk)
            jobs.job_enqueue(name=jobs.CLASSIFY_CSV, object_id=job.pk)
    return recovered


def _claim(*, job_id: int, worker: str) -> bool:
    """QUEUED -> RUNNING on ``worker`` in one UPDATE; False when another worker has it, or it ended."""
    return bool(
        CsvClassification.objects.filter(pk=job_id, status=Status.QUEUED).update(
            status=Status.RUNNING, worker=worker, heartbeat_at=timezone.now()
        )
    )


def _rows_waiting(*, user) -> int:
    active = CsvClassification.objects.filter(user=user, status__in=(Status.QUEUED, Status.RUNNING))
    totals = active.aggregate(total=Sum("total_rows"), done=Sum("done_rows"))
    return (totals["total"] or 0) - (totals["done"] or 0)


def _job_predictor(*, job: CsvClassification) -> Labeller:
    """The served model for a job's first slice, recorded on the job with its runtime; its later slices
    keep that model and runtime even if another is promoted meanwhile: one file, one model."""
    model = serving_slot.get(wait=True)  # a batch job waits for the newest model
    if job.run_id is None:
        CsvClassification.objects.filter(pk=job.pk).update(
            run=model.served.run, model_name=model.served.name, runtime=model.predictor.runtime
        )
        return model.predictor
    if job.run_id == model.served.run.pk and job.runtime in ("", model.predictor.runtime):
        return model.predictor
    return predictor_cache.get(job.run.model_dir, runtime=job.runtime or training_run_serving_runtime(run=job.run))


def _slice_classify(*, job: CsvClassification, held, predictor: Labeller) -> dict:
    """Classify the job's next ``settings.CSV_SLICE_ROWS`` rows into a new part file; returns its entry in ``parts``.

    Progress is written every ``CSV_PROGRESS_ROWS`` rows, and each write is the lease's heartbeat: when
    it finds the job no longer held, classifying stops (``_LeaseLost``). The part's name is new for each
    attempt, so a worker cut off mid-slice never writes into the part of the one that took over.
    """
    start = _rows_in(job.parts)
    reported = start

    def report(done: int) -> None:
        nonlocal reported
        if done - reported >= CSV_PROGRESS_ROWS:
            if not held.update(done_rows=done, heartbeat_at=timezone.now()):
                raise _LeaseLost()
            reported = done

    with (
        job.upload.open("rb") as upload,
        csv_table_open(binary=upload) as table,
        tempfile.TemporaryFile() as out,
    ):
        rows = itertools.islice(table.rows, start, start + settings.CSV_SLICE_ROWS)
        writer_text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(writer_text)
        done = start
        while chunk := list(itertools.islice(rows, CSV_CHUNK)):
            answers = predictor.predict(
                [row[table.text_at] for row in chunk],
                batch_size=CSV_BATCH,
                threads=cpu_cores(),  # batches side by side, one core each: more reviews per second
                cores=1,
                progress=lambda n, first=done: report(first + n),
            )
            writer.writerows(
                csv_cells_neutralise(cells=[*row, answer.label, f"{answer.probability:.4f}"])
                for row, answer in zip(chunk, answers, strict=True)
            )
            done += len(chunk)
        writer_text.detach().flush()  # the wrapper would close ``out`` when collected
        out.seek(0)
        name = default_storage.save(f"csv-parts/{job.pk}/{start:07d}-{uuid.uuid4().hex[:8]}.csv", File(out))
    return {"file": name, "rows": done - start}


def _result_join(*, job: CsvClassification, parts: list[dict]) -> str:
    """The result file: the uploaded header plus the two added columns, then every part in order."""
    with job.upload.open("rb") as upload, csv_table_open(binary=upload) as table:
        columns = table.columns
    with tempfile.TemporaryFile() as out:
        header = io.StringIO()
        csv.writer(header).writerow(csv_cells_neutralise(cells=[*columns, *ADDED_COLUMNS]))
        out.write(header.getvalue().encode("utf-8"))
        for part in parts:
            with default_storage.open(part["file"], "rb") as piece:
                while block := piece.read(2**20):
                    out.write(block)
        out.seek(0)
        name = CsvClassification._meta.get_field("result").generate_filename(job, f"classified-{job.filename}")
        return default_storage.save(name, File(out))


def _result_bytes_expected(upload_bytes: int, rows: int) -> int:
    """The result is the upload plus two columns a row (a label and a probability: about 16 bytes)."""
    return upload_bytes + 16 * rows


def _rows_in(parts: list[dict]) -> int:
    """Rows classified and kept: the resume point of a job whose slices are ``parts``."""
    return sum(part["rows"] for part in parts)


def _parts_delete(job_id: int) -> None:
    """Every slice file of the job, recorded or not: a worker killed between saving a slice and recording it
    leaves one that no job's ``parts`` names."""
    folder = f"csv-parts/{job_id}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")


def _reason(exc: Exception) -> str:
    """A job's error for the person: a ValidationError's own message, not its list repr; no file paths
    (the log keeps the whole error)."""
    return without_paths(" ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
