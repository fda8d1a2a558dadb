"""API v1: a CSV of reviews uploaded, followed while the worker classifies it, and its result downloaded."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentiment.services.csv_jobs import csv_classification_process

pytestmark = pytest.mark.django_db


def upload(client, key, content: bytes, name: str = "reviews.csv"):
    return client.post("/api/v1/csv", {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
                       HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip


def test_upload_follow_and_download(client, call, key, served_run, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    sent = upload(client, key, b"id,text\n1,A superb film.\n2,Dull and far too long.\n")
    assert sent.status_code == 201, sent.content
    job = sent.json()
    assert (job["status"], job["total"], job["done"], job["result"]) == ("queued", 2, 0, None)
    assert call("GET", f"/csv/{job['id']}/result", key=key).status_code == 409  # not ready yet
    assert csv_classification_process(job_id=job["id"]) == "succeeded"  # what the worker does
    followed = call("GET", f"/csv/{job['id']}", key=key).json()
    assert followed["status"] == "succeeded" and followed["percent"] == 100 and followed["result"]
    result = call("GET", followed["result"].removeprefix("/api/v1"), key=key)
    assert result.status_code == 200 and result["Content-Disposition"].startswith("attachment")
    lines = b"".join(result.streaming_content).decode().splitlines()
    assert lines[0] == "id,text,label,probability" and len(lines) == 3


def test_a_bad_file_is_refused_with_the_reason_and_queues_nothing(client, key, served_run):
    refused = upload(client, key, b"review\nno text column here\n")
    assert refused.status_code == 400
    assert "'text' column" in refused.json()["error"]["fields"]["file"]
    assert client.post("/api/v1/csv", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 400  # no file at all
    assert not served_run.csvclassification_set.exists()


def test_someone_elses_job_is_not_found(client, call, key, served_run, staff_key, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    theirs = upload(client, staff_key, b"text\nA fine film.\n").json()
    assert call("GET", f"/csv/{theirs['id']}", key=key).status_code == 404
    assert call("GET", f"/csv/{theirs['id']}/result", key=key).status_code == 404
