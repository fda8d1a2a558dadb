"""The JSON API: a key, a review in, a label out, remembered in the person's history."""

import json

import pytest
from django.core.management import call_command

from sentiment import api
from sentiment.models import ApiToken, Prediction
from sentiment.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db
URL = "/api/classify"


def call(client, body, key=None, content_type="application/json"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type=content_type, **headers)


def test_a_review_is_classified_and_remembered(client, person, served_run):
    key = api_token_create(user=person, name="script")
    response = call(client, {"text": "A wonderful brilliant film, loved it"}, key)
    assert response.status_code == 200
    answer = response.json()
    assert answer["label"] in {"positive", "negative"} and 0.5 <= answer["probability"] <= 1
    assert answer["run"] == served_run.pk and answer["model"].startswith(f"Run #{served_run.pk}")
    saved = Prediction.objects.get(pk=answer["id"])
    assert saved.user == person and saved.text == "A wonderful brilliant film, loved it"


def test_only_the_hash_of_a_key_is_stored(person):
    key = api_token_create(user=person)
    stored = ApiToken.objects.get(user=person)
    assert key not in stored.key_hash and stored.key_hash == ApiToken.hash_key(key)


@pytest.mark.parametrize("key", [None, "rs_not-a-key"])
def test_without_a_valid_key_the_answer_is_401(client, served_run, key):
    response = call(client, {"text": "fine"}, key)
    assert response.status_code == 401 and "API key" in response.json()["error"]
    assert not Prediction.objects.exists()


def test_a_deactivated_persons_key_no_longer_works(client, person, served_run):
    key = api_token_create(user=person)
    person.is_active = False
    person.save()
    assert call(client, {"text": "fine"}, key).status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "must be JSON"),
        ({"review": "wrong field"}, '"text"'),
        ({"text": 42}, '"text"'),
        ({"text": "   "}, "empty"),
        ({"text": "x" * 20001}, "limit"),
    ],
)
def test_bad_requests_get_400_with_a_reason(client, person, served_run, body, message):
    key = api_token_create(user=person)
    response = call(client, body, key)
    assert response.status_code == 400 and message in response.json()["error"]
    assert not Prediction.objects.exists()


def test_without_a_served_model_the_answer_is_503(client, person):
    key = api_token_create(user=person)
    response = call(client, {"text": "fine"}, key)
    assert response.status_code == 503 and "No model" in response.json()["error"]


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_an_unexpected_failure_answers_json_500_and_is_logged_with_its_traceback(
    client, person, served_run, monkeypatch, caplog
):
    def broken(**kwargs):  # stands for any bug: nothing real fails on demand here
        raise RuntimeError("a bug in the service")

    monkeypatch.setattr(api, "review_classify", broken)  # where the view looks it up
    response = call(client, {"text": "fine"}, api_token_create(user=person))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert "try again later" in response.json()["error"] and "bug" not in response.json()["error"]
    [record] = [r for r in caplog.records if r.name == "sentiment.api"]
    assert record.exc_info and "a bug in the service" in str(record.exc_info[1])


def test_the_command_prints_a_working_key(client, person, served_run, capsys):
    call_command("api_token", "person", "--name", "cli")
    key = capsys.readouterr().out.strip()
    assert call(client, {"text": "a superb film"}, key).status_code == 200
