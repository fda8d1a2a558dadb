"""API v1's Idempotency-Key: a request sent again with its key creates nothing new and answers the first
one's object; the key used for another request is refused; a refused request leaves the key free."""

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from sentiment.models import CsvClassification, IdempotentRequest
from sentiment.services.idempotency import request_once

pytestmark = pytest.mark.django_db
REVIEWS = b"id,text\n1,A superb film.\n2,Dull and far too long.\n"


def upload(client, key, content: bytes, *, idempotency_key: str | None = None, name: str = "reviews.csv"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return client.post("/api/v1/csv", {"file": SimpleUploadedFile(name, content, content_type="text/csv")}, **headers)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_an_upload_sent_again_with_its_key_is_queued_once(client, key, served_run, media):
    first = upload(client, key, REVIEWS, idempotency_key="upload-1")
    again = upload(client, key, REVIEWS, idempotency_key="upload-1")
    assert first.status_code == again.status_code == 201, again.content
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert CsvClassification.objects.count() == 1
    without_key = [upload(client, key, REVIEWS).json()["id"] for _ in range(2)]
    assert len(set(without_key)) == 2 and CsvClassification.objects.count() == 3  # no key: each one counts


def test_the_key_reused_for_another_file_is_a_conflict(client, key, served_run, media):
    assert upload(client, key, REVIEWS, idempotency_key="k").status_code == 201
    other = upload(client, key, REVIEWS + b"3,Another review.\n", idempotency_key="k")
    assert other.status_code == 409
    error = other.json()["error"]
    assert error["code"] == "conflict" and "different request" in error["message"]
    assert error["fields"] == {"Idempotency-Key": "used for a different request"}
    assert CsvClassification.objects.count() == 1


def test_keys_are_per_person(client, key, staff_key, served_run, media):
    mine = upload(client, key, REVIEWS, idempotency_key="same")
    theirs = upload(client, staff_key, REVIEWS, idempotency_key="same")
    assert mine.status_code == theirs.status_code == 201 and mine.json()["id"] != theirs.json()["id"]


def test_a_refused_upload_leaves_its_key_free_for_the_fixed_file(client, key, served_run, media):
    refused = upload(client, key, b"review\nno text column\n", idempotency_key="retry-me")
    assert refused.status_code == 400 and not IdempotentRequest.objects.exists()
    fixed = upload(client, key, REVIEWS, idempotency_key="retry-me")
    assert fixed.status_code == 201 and CsvClassification.objects.count() == 1


@pytest.mark.parametrize("bad", ["", "   ", "x" * 256, "clé"])
def test_a_malformed_key_is_refused_before_anything_is_done(client, key, served_run, media, bad):
    refused = upload(client, key, REVIEWS, idempotency_key=bad)
    assert refused.status_code == 400, refused.content
    assert "Idempotency-Key" in refused.json()["error"]["fields"]
    assert not CsvClassification.objects.exists()


def test_a_key_is_forgotten_after_its_hours(client, key, served_run, media, settings):
    first = upload(client, key, REVIEWS, idempotency_key="old").json()["id"]
    IdempotentRequest.objects.update(created_at="2000-01-01T00:00:00Z")
    later = upload(client, key, REVIEWS, idempotency_key="old")
    assert later.status_code == 201 and later.json()["id"] != first
    assert IdempotentRequest.objects.count() == 1  # the old record went


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_create_one_object(person):
    """The second waits on the key's unique index while the first is still creating, then answers its object."""
    created, answers, errors = [], [], []
    first_inside = threading.Event()

    def create():
        first_inside.set()
        time.sleep(0.5)  # still creating when the second request arrives
        created.append(object())
        return person  # any saved object does: its pk is recorded

    def send():
        try:
            answers.append(request_once(user=person, key="k", operation="t", fingerprint="f", create=create))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=send)
    first.start()
    assert first_inside.wait(5)
    second = threading.Thread(target=send)
    second.start()
    first.join(10)
    second.join(10)
    assert not errors, errors
    assert len(created) == 1 and sorted(a.replayed for a in answers) == [False, True]
    assert {a.object_id for a in answers} == {person.pk}
