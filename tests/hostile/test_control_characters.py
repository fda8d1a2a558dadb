"""A review holding characters that are not text (NUL and other control characters, a lone surrogate) is
refused with 400 and a reason before any model is asked, on the form and on both APIs; nothing is stored
(PostgreSQL refuses NUL in text: it used to be classified first, then fail to be stored with a 500)."""

import json

import pytest
from django.urls import reverse

from sentiment.models import Prediction
from sentiment.services import classify
from sentiment.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db
NOT_TEXT = ["a fine\x00film", "bell\x07", "escape \x1b[31m red", "delete\x7f"]


@pytest.fixture
def no_model(monkeypatch):
    """Any review that reaches the model fails the test: these must be refused before."""

    def asked():
        raise AssertionError("the model was asked")

    monkeypatch.setattr(classify.serving_slot, "get", asked)


@pytest.fixture
def key(person, served_run):
    return api_token_create(user=person, name="hostile")


@pytest.mark.parametrize("text", NOT_TEXT)
def test_both_apis_refuse_control_characters_before_the_model_and_store_nothing(client, key, no_model, text):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    legacy = client.post("/api/classify", {"text": text}, content_type="application/json", **auth)
    assert legacy.status_code == 400 and "control characters" in legacy.json()["error"]
    v1 = client.post("/api/v1/classify", {"text": text}, content_type="application/json", **auth)
    assert v1.status_code == 400 and "control characters" in json.dumps(v1.json())
    batch = client.post("/api/v1/classify/batch", {"reviews": ["fine", text]}, content_type="application/json", **auth)
    assert batch.status_code == 400 and "control characters" in json.dumps(batch.json())
    assert Prediction.objects.count() == 0


def test_a_lone_surrogate_is_refused_too(client, key, no_model):
    body = '{"text": "a fine film \\ud800"}'  # valid JSON, no character at all
    answer = client.post("/api/classify", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert answer.status_code == 400 and "surrogate" in answer.json()["error"]


def test_the_form_says_so_and_keeps_the_page(client, person, served_run, no_model):
    client.force_login(person)
    page = client.post(reverse("sentiment:classify"), {"text": "a fine\x07film"})
    assert page.status_code == 200 and "control characters" in page.content.decode()
    page = client.post(reverse("sentiment:classify"), {"text": "a fine\x00film"})  # Django's own field says it
    assert page.status_code == 200 and "Null characters are not allowed" in page.content.decode()
    assert Prediction.objects.count() == 0


def test_tabs_and_line_breaks_are_text(client, key):
    answer = client.post(
        "/api/classify", {"text": "Loved it.\r\n\tA superb film."}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )  # fmt: skip
    assert answer.status_code == 200 and Prediction.objects.count() == 1
