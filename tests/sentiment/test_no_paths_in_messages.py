"""What a person outside the machine reads never names its folders: a served model that does not load, a
CSV job that fails on a missing file (the log keeps the whole error)."""

import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ml.errors import without_paths
from sentiment.models import CsvClassification, TrainingRun
from sentiment.services.api_tokens import api_token_create
from sentiment.services.csv_jobs import csv_classification_create, csv_classification_process

pytestmark = pytest.mark.django_db


def test_paths_are_taken_out_of_a_message_and_the_rest_is_kept():
    message = "no saved model in /data/runs/run-3/model (expected config.json there); see ~/x and C:\\x\\y"
    assert without_paths(message) == "no saved model in … (expected config.json there); see … and …"
    assert without_paths("1/2 of the reviews, and/or https://example.org/docs") == (
        "1/2 of the reviews, and/or https://example.org/docs"
    )


def test_a_served_model_that_does_not_load_is_explained_without_its_folder(
    client,
    person,
    served_run,
    tmp_path,
):
    moved = shutil.copytree(served_run.output_dir, tmp_path / "run")
    TrainingRun.objects.filter(pk=served_run.pk).update(model_dir=str(moved / "gone"))
    key = api_token_create(user=person, name="t")
    answer = client.post("/api/v1/classify", {"text": "fine"}, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert answer.status_code == 503, answer.content
    assert str(tmp_path) not in answer.content.decode() and "could not be loaded" in answer.content.decode()


def test_a_csv_job_that_fails_on_a_missing_file_says_why_without_the_path(
    served_run,
    person,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = str(tmp_path)
    job = csv_classification_create(user=person, upload=SimpleUploadedFile("r.csv", b"text\nfine\n"))
    (tmp_path / job.upload.name).unlink()  # the disk lost it
    assert csv_classification_process(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == CsvClassification.Status.FAILED and "No such file" in job.error
    assert str(tmp_path) not in job.error and "uploads" not in job.error
