"""Storage stays bounded (``storage``): a quota of bytes per person checked before anything is
written, a retention applied by the sweep, files deleted with their rows, and staff can see who stores what
(recomputed here from the files on disk)."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from sentiment.models import CsvClassification, Feedback, LabelledDataset, Prediction
from sentiment.services.api_tokens import api_token_create
from sentiment.services.classify import review_classify
from sentiment.services.csv_jobs import csv_classification_create, csv_classification_process
from sentiment.services.datasets import labelled_dataset_create
from sentiment.services.feedback import prediction_feedback_give
from sentiment.services.storage import StorageQuotaExceeded, person_stored_bytes, stored_expire

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def csv_file(rows: int, *, width: int = 20, name: str = "reviews.csv") -> SimpleUploadedFile:
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text"])
    writer.writerows([i, ("loved it, wonderful " if i % 2 else "awful, boring ") + "x" * width] for i in range(rows))
    return SimpleUploadedFile(name, table.getvalue().encode())


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def classified(person, upload) -> CsvClassification:
    job = csv_classification_create(user=person, upload=upload)
    assert csv_classification_process(job_id=job.pk) == "succeeded"
    job.refresh_from_db()
    return job


def test_a_file_past_the_quota_is_refused_naming_the_quota_and_what_is_used_and_nothing_is_written(
    served_run, person, media, settings
):
    first = classified(person, csv_file(100))
    assert first.stored_bytes == first.upload.size + first.result.size  # as the files on disk say
    settings.MAX_STORED_BYTES_PER_PERSON = first.stored_bytes + 3000
    on_disk = files_in(media)
    with pytest.raises(StorageQuotaExceeded) as refused:
        csv_classification_create(user=person, upload=csv_file(200, width=40))
    message = " ".join(refused.value.messages)
    assert f"{(first.stored_bytes + 3000) / 2**20:,.1f} MB" in message and "you use" in message
    assert files_in(media) == on_disk and CsvClassification.objects.count() == 1


def test_a_queued_file_reserves_its_results_bytes_so_files_sent_together_cannot_pass_the_quota(
    served_run, person, media, settings
):
    upload = csv_file(100)
    settings.MAX_STORED_BYTES_PER_PERSON = int(2.5 * upload.size) + 4000  # room for one file and its result
    first = csv_classification_create(user=person, upload=upload)
    assert first.stored_bytes == upload.size + (upload.size + 16 * 100)  # the result's bytes, reserved
    with pytest.raises(StorageQuotaExceeded):  # before the first one's result is even written
        csv_classification_create(user=person, upload=csv_file(100, name="second.csv"))
    assert csv_classification_process(job_id=first.pk) == "succeeded"
    first.refresh_from_db()
    assert first.stored_bytes == first.upload.size + first.result.size  # the reservation becomes the real size


def test_the_quota_counts_a_persons_data_sets_too(person, media, settings):
    rows = "text,label\n" + "".join(
        f"review number {i} was {'great' if i % 2 else 'awful'},{i % 2}\n" for i in range(60)
    )
    dataset = labelled_dataset_create(
        user=person, name="mine", description="", upload=SimpleUploadedFile("mine.csv", rows.encode())
    )
    on_disk = sum(p.stat().st_size for p in files_in(Path(dataset.folder)))
    assert dataset.stored_bytes == on_disk > 0 and person_stored_bytes(user=person) == on_disk
    settings.MAX_STORED_BYTES_PER_PERSON = on_disk + 10
    with pytest.raises(ValidationError, match="you use"):
        labelled_dataset_create(
            user=person, name="again", description="", upload=SimpleUploadedFile("again.csv", rows.encode())
        )
    assert LabelledDataset.objects.count() == 1


def test_the_page_and_the_api_say_the_quota_with_a_4xx(client, served_run, person, media, settings):
    settings.MAX_STORED_BYTES_PER_PERSON = 100
    client.force_login(person)
    page = client.post(reverse("sentiment:csv_upload"), {"file": csv_file(50)})
    assert "you use 0.0 MB" in page.content.decode() and not CsvClassification.objects.exists()
    key = api_token_create(user=person, name="t")
    answer = client.post("/api/v1/csv", {"file": csv_file(50)}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert 400 <= answer.status_code < 500 and "you use 0.0 MB" in answer.json()["error"]["message"]


def test_jobs_past_the_retention_go_with_their_files_failed_ones_too_and_recent_ones_stay(
    served_run, person, media, settings
):
    old, recent = classified(person, csv_file(30)), classified(person, csv_file(30, name="recent.csv"))
    failed = csv_classification_create(user=person, upload=csv_file(10, name="failed.csv"))
    CsvClassification.objects.filter(pk=failed.pk).update(status="failed", finished_at=timezone.now())
    long_ago = timezone.now() - timedelta(days=settings.RETENTION_DAYS + 1)
    CsvClassification.objects.filter(pk__in=[old.pk, failed.pk]).update(finished_at=long_ago)
    old_files = [media / old.upload.name, media / old.result.name, media / failed.upload.name]
    assert all(path.is_file() for path in old_files)

    with django_on_commit():
        assert stored_expire()["csv_jobs"] == 2
    assert list(CsvClassification.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not any(path.exists() for path in old_files)
    assert (media / recent.upload.name).is_file() and (media / recent.result.name).is_file()
    assert person_stored_bytes(user=person) == recent.stored_bytes


def test_old_prediction_texts_are_emptied_except_those_with_feedback(served_run, person, settings):
    kept, emptied, recent = (review_classify(user=person, text=t) for t in ("a superb film", "dull", "fine"))
    prediction_feedback_give(prediction=kept, correct_label="negative")
    long_ago = timezone.now() - timedelta(days=settings.PREDICTION_TEXT_RETENTION_DAYS + 1)
    Prediction.objects.filter(pk__in=[kept.pk, emptied.pk]).update(created_at=long_ago)
    assert stored_expire()["prediction_texts"] == 1
    texts = dict(Prediction.objects.values_list("pk", "text"))
    assert texts == {kept.pk: "a superb film", emptied.pk: "", recent.pk: "fine"}
    assert Feedback.objects.get().prediction.text == "a superb film"


def test_deleting_an_account_deletes_its_files(served_run, person, media):
    job = classified(person, csv_file(20))
    paths = [media / job.upload.name, media / job.result.name]
    with django_on_commit():
        person.delete()
    assert not CsvClassification.objects.exists() and not any(path.exists() for path in paths)


def test_staff_see_the_bytes_each_person_stores(client, staff, served_run, person, media):
    job = classified(person, csv_file(40))
    client.force_login(staff)
    page = client.get(reverse("admin:auth_user_changelist")).content.decode()
    on_disk = sum(path.stat().st_size for path in files_in(media))
    assert job.stored_bytes == on_disk and f'field-stored">{filesizeformat(on_disk)}<' in page


def django_on_commit():
    """Run the on-commit deletions the test transaction would otherwise never reach."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)
