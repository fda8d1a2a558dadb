"""CSV jobs: every row labelled once, a slice at a time, under a lease that the sweep takes back from a
dead worker; the per-person cap; and an upload while the broker is away."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from sentiment.models import CsvClassification
from sentiment.services import csv_jobs
from sentiment.services.csv_jobs import (
    csv_classification_create,
    csv_classification_process,
    csv_classifications_recover,
)
from sentiment.services.sweep import jobs_sweep
from tests.brokers import broker_away

pytestmark = pytest.mark.django_db


def test_a_csv_is_labelled_row_by_row_with_progress_along_the_way(served_run, person, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(csv_jobs, "CSV_CHUNK", 128)
    monkeypatch.setattr(csv_jobs, "CSV_PROGRESS_ROWS", 50)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text"])
    writer.writerows([i, "loved it, wonderful" if i % 2 else "awful, boring"] for i in range(300))
    upload = SimpleUploadedFile("reviews.csv", table.getvalue().encode())
    job = csv_classification_create(user=person, upload=upload)

    with CaptureQueriesContext(connection) as queries:
        assert csv_classification_process(job_id=job.pk) == "succeeded"

    reported = [int(n) for q in queries for n in re.findall(r'"done_rows" = (\d+)', q["sql"])]
    # batches of 8 finish one after another; a write once 50 more rows are done, and at the end
    assert reported == [56, 112, 168, 224, 280, 300]
    job.refresh_from_db()
    assert job.status == CsvClassification.Status.SUCCEEDED and job.done_rows == 300
    with job.result.open("rb") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode())))
    assert [row["id"] for row in rows] == [str(i) for i in range(300)]
    assert all(row["label"] in {"positive", "negative"} and 0.5 <= float(row["probability"]) <= 1 for row in rows)


def test_the_upload_is_stored_as_sent_and_the_result_keeps_its_columns(served_run, person, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    sent = '\ufeffid,text,note\r\n1,"loved it,\r\nwonderful",a\r\n\r\n2,"awful, ""boring""",b\r\n'.encode()
    upload = TemporaryUploadedFile("reviews.csv", "text/csv", len(sent), None)  # as Django keeps a large upload
    upload.write(sent)
    job = csv_classification_create(user=person, upload=upload)

    assert job.total_rows == 2
    with job.upload.open("rb") as handle:
        assert handle.read() == sent
    assert csv_classification_process(job_id=job.pk) == "succeeded"
    with CsvClassification.objects.get(pk=job.pk).result.open("rb") as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode(), newline="")))
    assert [row[:3] for row in rows] == [
        ["id", "text", "note"],
        ["1", "loved it,\r\nwonderful", "a"],
        ["2", 'awful, "boring"', "b"],
    ]
    assert rows[0][3:] == ["label", "probability"] and all(len(row) == 5 for row in rows)


def test_a_stored_file_past_a_limit_fails_its_job_with_the_reason(served_run, person, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    job = csv_classification_create(user=person, upload=SimpleUploadedFile("r.csv", b"text\na\nb\nc\n"))
    settings.MAX_CSV_ROWS = 2  # lowered between the upload and the worker

    assert csv_classification_process(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == CsvClassification.Status.FAILED and not job.result
    assert job.error == "The CSV has more than 2 rows; the limit is 2."


def reviews_csv(rows: int) -> SimpleUploadedFile:
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text"])
    writer.writerows([i, "loved it, wonderful" if i % 2 else "awful, boring"] for i in range(rows))
    return SimpleUploadedFile("reviews.csv", table.getvalue().encode())


def result_ids(job: CsvClassification) -> list[int]:
    job.refresh_from_db()
    with job.result.open("rb") as handle:
        return [int(row["id"]) for row in csv.DictReader(io.StringIO(handle.read().decode()))]


@pytest.fixture
def small_slices(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CSV_SLICE_ROWS = 40
    monkeypatch.setattr(csv_jobs, "CSV_PROGRESS_ROWS", 8)
    return tmp_path  # MEDIA_ROOT


def test_a_big_file_takes_turns_a_slice_at_a_time_and_every_row_is_in_the_result_once(
    served_run, person, small_slices, queued_jobs, django_capture_on_commit_callbacks
):
    job = csv_classification_create(user=person, upload=reviews_csv(100))
    with django_capture_on_commit_callbacks(execute=True):
        assert csv_classification_process(job_id=job.pk, worker="w") == "continued"
    job.refresh_from_db()
    assert job.status == CsvClassification.Status.QUEUED and job.done_rows == 40 and len(job.parts) == 1
    assert job.status_display == "Running (taking turns with other files)" and job.dispatched_at
    assert queued_jobs("default") == [("worker.tasks.classify_csv", [job.pk])]  # behind whatever waits

    assert csv_classification_process(job_id=job.pk, worker="w") == "continued"
    # a slice a killed worker saved but never recorded: not in the result, and deleted with the others
    stray = Path(small_slices, "csv-parts", str(job.pk), "0000040-deadbeef.csv")
    stray.write_text("40,killed,negative,0.9\n")
    assert csv_classification_process(job_id=job.pk, worker="w2") == "succeeded"
    assert result_ids(job) == list(range(100))
    assert job.parts == [] and not list((Path(job.result.path).parents[3] / "csv-parts" / str(job.pk)).iterdir())


def test_a_job_whose_worker_died_resumes_after_its_last_slice_on_another_worker(served_run, person, small_slices):
    job = csv_classification_create(user=person, upload=reviews_csv(100))
    assert csv_classification_process(job_id=job.pk, worker="a") == "continued"
    CsvClassification.objects.filter(pk=job.pk).update(  # worker "a" claimed the next slice, then died
        status="running", worker="a", done_rows=72, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert csv_classification_process(job_id=job.pk, worker="b") == "skipped"  # held: not b's to take

    assert csv_classifications_recover() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.worker, job.done_rows, job.faults) == ("queued", "", 40, 1)
    while (outcome := csv_classification_process(job_id=job.pk, worker="b")) == "continued":
        pass
    assert outcome == "succeeded" and result_ids(job) == list(range(100))


def test_a_restarting_worker_hands_back_at_once_what_it_held(served_run, person, small_slices):
    job = csv_classification_create(user=person, upload=reviews_csv(10))
    CsvClassification.objects.filter(pk=job.pk).update(status="running", worker="me", heartbeat_at=timezone.now())
    assert csv_classifications_recover() == []  # its heartbeat is fresh
    assert csv_classifications_recover(worker="me") == [job.pk]


def test_a_job_that_loses_its_worker_every_time_fails_with_the_reason(served_run, person, small_slices, settings):
    settings.CSV_MAX_ATTEMPTS = 2
    job = csv_classification_create(user=person, upload=reviews_csv(10))
    for attempt in range(2):
        CsvClassification.objects.filter(pk=job.pk).update(
            status="running", worker=f"w{attempt}", heartbeat_at=timezone.now() - timedelta(minutes=5)
        )
        csv_classifications_recover()
    job.refresh_from_db()
    assert job.status == "failed" and job.faults == 2 and job.finished_at
    assert job.error == "Its worker stopped 2 times while classifying it; gave up."


def test_a_worker_that_lost_its_job_mid_slice_stops_and_commits_nothing(served_run, person, small_slices, monkeypatch):
    job = csv_classification_create(user=person, upload=reviews_csv(30))
    original = csv_jobs._slice_classify

    def taken_over_midway(*, job, held, predictor):
        # as the sweep does while this worker is paused: the job is handed to another worker
        CsvClassification.objects.filter(pk=job.pk).update(worker="other")
        return original(job=job, held=held, predictor=predictor)

    monkeypatch.setattr(csv_jobs, "_slice_classify", taken_over_midway)
    assert csv_classification_process(job_id=job.pk, worker="paused") == "lost"
    job.refresh_from_db()
    assert (job.status, job.worker, job.parts, job.done_rows, job.error) == ("running", "other", [], 0, "")


def test_a_person_cannot_queue_more_reviews_than_their_share(served_run, person, small_slices, settings):
    settings.MAX_QUEUED_CSV_ROWS = 150
    csv_classification_create(user=person, upload=reviews_csv(100))
    with pytest.raises(ValidationError, match=r"You have 100 reviews waiting.*this file's 60.*limit of 150"):
        csv_classification_create(user=person, upload=reviews_csv(60))
    assert CsvClassification.objects.count() == 1
    csv_classification_create(user=person, upload=reviews_csv(50))  # within the share


def test_an_upload_while_the_broker_is_away_waits_and_the_sweep_sends_it_once_it_is_back(
    served_run, person, client, small_slices, queued_jobs, django_capture_on_commit_callbacks
):
    client.force_login(person)
    with broker_away(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sentiment:csv_upload"), {"file": reviews_csv(10)})
    job = CsvClassification.objects.get()
    assert response.status_code == 302 and job.status == "queued" and job.dispatched_at is None
    assert escape(CsvClassification.BROKER_AWAY) in client.get(response.url).content.decode()

    CsvClassification.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["resent"] == [job.pk]
    assert queued_jobs("default") == [("worker.tasks.classify_csv", [job.pk])]
    job.refresh_from_db()
    assert job.dispatched_at and jobs_sweep()["resent"] == []  # sent: not again at once
