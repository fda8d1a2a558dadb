"""The JSON API: a key, a review in, a label out, remembered in the person's history."""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

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


@pytest.mark.parametrize("url", [URL, "/api/v1/classify"])
def test_an_answer_costs_one_key_lookup_one_version_query_and_one_insert(client, person, served_run, url):
    """The rate limits and the key check read the same key: one lookup between them, on either API."""
    key = api_token_create(user=person)
    call(client, {"text": "warm up"}, key)  # the key's last use is recorded now, not below
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"text": "A fine film"}, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert response.status_code == 200
    tables = sorted(query["sql"].split()[0] + " " + query["sql"].split('"')[1] for query in queries.captured_queries)
    assert tables == ["INSERT sentiment_prediction", "SELECT sentiment_apitoken", "SELECT sentiment_promotion"]


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


# --- deprecated: every answer says so and names what replaces it (RFC 9745) ----------------------------

DEPRECATED = "@1796601600"  # 2026-12-07 00:00 UTC, as a structured-field date: "@" and seconds since 1970
DOCS_LINK = '</api/v1/docs>; rel="deprecation"; type="text/html"'


def says_deprecated(response, successor: str) -> None:
    assert response["Deprecation"] == DEPRECATED
    assert response["Link"] == f'{DOCS_LINK}, <{successor}>; rel="successor-version"'


def test_every_classify_answer_says_it_is_deprecated_and_names_v1(client, person, served_run, settings, monkeypatch):
    settings.RATE_LIMIT_API_KEY = "5/m"  # refusals count too: the sixth below is past it
    key = api_token_create(user=person)
    answers = [
        call(client, {"text": "A superb film."}, key),  # 200
        call(client, {"text": "A superb film.", "explain": True}, key),  # 200 with its explanation's address
        call(client, {"text": "   "}, key),  # 400
        call(client, {"text": "fine"}),  # 401
        client.get(URL),  # 405
        call(client, {"text": "x" * 5 * 2**20}, key),  # 413
        call(client, "text=fine", key, content_type="application/x-www-form-urlencoded"),  # 415
        call(client, {"text": "fine"}, key),  # 429
    ]
    assert [a.status_code for a in answers] == [200, 200, 400, 401, 405, 413, 415, 429]
    monkeypatch.setattr(api, "review_classify", lambda **kwargs: 1 / 0)  # any bug
    answers.append(call(client, {"text": "fine"}, api_token_create(user=person)))
    assert answers[-1].status_code == 500
    for answer in answers:
        says_deprecated(answer, "/api/v1/classify")
    assert "explanation_url" in answers[1].json() and set(answers[0].json()) == {
        "id",
        "label",
        "probability",
        "model",
        "run",
        "runtime",
    }  # fmt: skip  (the answer's shape is the one its clients read)


def test_without_a_served_model_the_503_says_it_is_deprecated_too(client, person):
    answer = call(client, {"text": "fine"}, api_token_create(user=person))
    assert answer.status_code == 503
    says_deprecated(answer, "/api/v1/classify")


def test_every_feedback_answer_says_it_is_deprecated_and_names_its_v1_endpoint(client, person, staff, served_run):
    key = api_token_create(user=person)
    [mine, theirs] = [
        call(client, {"text": "A superb film."}, k).json()["id"] for k in (key, api_token_create(user=staff))
    ]

    def feedback(prediction: int, body, key=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        return client.post(f"/api/predictions/{prediction}/feedback", body, content_type="application/json", **headers)

    label = "negative" if Prediction.objects.get(pk=mine).label == "positive" else "positive"
    answers = {
        mine: [feedback(mine, {"correct_label": label}, key), feedback(mine, {"correct_label": 1}, key),
               feedback(mine, {"correct_label": label}), client.get(f"/api/predictions/{mine}/feedback")],
        theirs: [feedback(theirs, {"correct_label": label}, key)],
    }  # fmt: skip
    assert [a.status_code for a in answers[mine] + answers[theirs]] == [201, 400, 401, 405, 404]
    for prediction, given in answers.items():
        for answer in given:
            says_deprecated(answer, f"/api/v1/predictions/{prediction}/feedback")
