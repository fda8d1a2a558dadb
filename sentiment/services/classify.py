"""Classifying reviews with the served model: one at a time from the form or API, or a whole CSV.

The model is the one most recently promoted, held by each process's ``serving_slot``: a promotion is
noticed on the next request and the new model is loaded in the background, no restart needed.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import tempfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from ml.inference import one_core_per_batch
from sentiment import jobs, selectors
from sentiment.csv_files import ADDED_COLUMNS, csv_cells_neutralise, csv_rows_count, csv_table_open
from sentiment.models import CsvClassification, Prediction
from sentiment.services.serving import NoModelServed, answering, serving_slot

logger = logging.getLogger(__name__)
CSV_CHUNK = 2048  # rows tokenized and sorted by length together (bounds the memory of a large file)
CSV_PROGRESS_ROWS = 128  # rows classified between two progress updates
CSV_BATCH = 8  # small batches: on a CPU they were faster per review than 64 (bench/RESULTS.md)


def review_clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError("Write a review first: the text is empty.")
    if len(text) > settings.MAX_REVIEW_CHARS:
        raise ValidationError(
            f"That review is {len(text):,} characters long; the limit is {settings.MAX_REVIEW_CHARS:,}."
        )
    return text


def review_classify(*, user, text: str) -> Prediction:
    """Label one review and remember it in the person's history."""
    text = review_clean(text)
    model = serving_slot.get()
    with answering():
        [answer] = model.predictor.predict([text])
    return Prediction.objects.create(
        user=user,
        text=text,
        label=answer.label,
        probability=answer.probability,
        run=model.served.run,
        model_name=model.served.name,
    )


def csv_classification_create(*, user, upload) -> CsvClassification:
    """Check an uploaded CSV (size, encoding, columns, every row) and queue it for the worker.

    The upload is read as a stream and nothing of it is kept (``csv_files``): a web worker's memory
    does not grow with the file, and a file past a limit is refused as soon as the limit is passed.
    It is stored as it was sent.
    """
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is larger than {settings.MAX_UPLOAD_BYTES // 2**20} MB.")
    total_rows = csv_rows_count(binary=upload)
    if selectors.served_model() is None:
        raise NoModelServed()
    with transaction.atomic():
        job = CsvClassification(user=user, filename=upload.name[:255], total_rows=total_rows)
        job.upload.save(upload.name, upload, save=False)
        job.save()
        jobs.job_enqueue(name=jobs.CLASSIFY_CSV, object_id=job.pk)
    return job


def csv_classification_process(*, job_id: int) -> str:
    """Worker side: classify the rows a chunk at a time, recording progress, and store the annotated CSV.

    The stored file is read and the result written as a stream (a temporary file, then the result field),
    so the worker holds one chunk of rows, whatever the file's size. Written cells are neutralised
    (``csv_cells_neutralise``); the model gets each review as written.
    """
    claimed = CsvClassification.objects.filter(pk=job_id, status=CsvClassification.Status.QUEUED).update(
        status=CsvClassification.Status.RUNNING
    )
    if not claimed:
        return "skipped"
    job = CsvClassification.objects.get(pk=job_id)
    try:
        model = serving_slot.get(wait=True)  # a batch job waits for the newest model
        CsvClassification.objects.filter(pk=job_id).update(run=model.served.run, model_name=model.served.name)
        reported = 0

        def report(done: int) -> None:
            nonlocal reported
            if done - reported >= CSV_PROGRESS_ROWS or done == job.total_rows:
                CsvClassification.objects.filter(pk=job_id).update(done_rows=done)
                reported = done

        with (
            job.upload.open("rb") as upload,
            csv_table_open(binary=upload) as table,
            tempfile.TemporaryFile() as out,
        ):
            result = io.TextIOWrapper(out, encoding="utf-8", newline="")
            writer = csv.writer(result)
            writer.writerow(csv_cells_neutralise(cells=[*table.columns, *ADDED_COLUMNS]))
            done = 0
            with one_core_per_batch() as cores:
                while chunk := list(itertools.islice(table.rows, CSV_CHUNK)):
                    answers = model.predictor.predict(
                        [row[table.text_at] for row in chunk],
                        batch_size=CSV_BATCH,
                        threads=cores,
                        progress=lambda n, start=done: report(start + n),
                    )
                    writer.writerows(
                        csv_cells_neutralise(cells=[*row, answer.label, f"{answer.probability:.4f}"])
                        for row, answer in zip(chunk, answers, strict=True)
                    )
                    done += len(chunk)
            result.detach().flush()  # the wrapper would close ``out`` when collected
            job.result.save(f"classified-{job.filename}", File(out), save=False)
        CsvClassification.objects.filter(pk=job_id).update(
            result=job.result.name, status=CsvClassification.Status.SUCCEEDED, finished_at=timezone.now()
        )
    except Exception as exc:
        logger.exception("CSV classification %s failed", job_id)
        CsvClassification.objects.filter(pk=job_id).update(
            status=CsvClassification.Status.FAILED, error=_reason(exc)[:2000], finished_at=timezone.now()
        )
        return "failed"
    return "succeeded"


def _reason(exc: Exception) -> str:
    """A job's error for the person: a ValidationError's own message, not its list repr."""
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
