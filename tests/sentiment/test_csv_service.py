"""The worker's side of a CSV upload: every row labelled, and progress written as batches finish."""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sentiment import services
from sentiment.models import CsvClassification
from sentiment.services import classify

pytestmark = pytest.mark.django_db


def test_a_csv_is_labelled_row_by_row_with_progress_along_the_way(served_run, person, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(classify, "CSV_CHUNK", 128)
    monkeypatch.setattr(classify, "CSV_PROGRESS_ROWS", 50)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text"])
    writer.writerows([i, "loved it, wonderful" if i % 2 else "awful, boring"] for i in range(300))
    upload = SimpleUploadedFile("reviews.csv", table.getvalue().encode())
    job = services.csv_classification_create(user=person, upload=upload)

    with CaptureQueriesContext(connection) as queries:
        assert services.csv_classification_process(job_id=job.pk) == "succeeded"

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
    job = services.csv_classification_create(user=person, upload=upload)

    assert job.total_rows == 2
    with job.upload.open("rb") as handle:
        assert handle.read() == sent
    assert services.csv_classification_process(job_id=job.pk) == "succeeded"
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
    job = services.csv_classification_create(user=person, upload=SimpleUploadedFile("r.csv", b"text\na\nb\nc\n"))
    settings.MAX_CSV_ROWS = 2  # lowered between the upload and the worker

    assert services.csv_classification_process(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == CsvClassification.Status.FAILED and not job.result
    assert job.error == "The CSV has more than 2 rows; the limit is 2."
