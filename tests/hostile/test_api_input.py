"""Hostile bodies on POST /api/classify: each gets a JSON answer with a reason, stores nothing, and the
process goes on answering (issue 13: 200,000 nested "[" used to answer Django's HTML 500)."""

import json

import pytest

from sentiment.models import Prediction
from sentiment.services.api_tokens import api_token_create, api_token_revoke
from sentiment.services.classify import review_classify
from tests.api_v1.conftest import session_only

pytestmark = pytest.mark.django_db
URL = "/api/classify"


@pytest.fixture
def key(person, served_run):
    return api_token_create(user=person, name="hostile")


def post(client, data, key, content_type="application/json"):
    return client.post(URL, data=data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


def refused(response, status: int, words: str) -> str:
    """The answer is JSON with ``status`` and a reason containing ``words``, and nothing was stored."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert words in response.json()["error"]
    assert Prediction.objects.count() == 0
    return response.json()["error"]


def test_deeply_nested_json_is_refused_and_the_process_goes_on(client, key):
    refused(post(client, "[" * 200_000, key), 400, "nested too deeply")
    assert post(client, json.dumps({"text": "a superb film"}), key).status_code == 200


def test_nesting_deeper_than_the_api_reads_is_refused(client, key):
    body = '{"text": "fine", "extra": ' + "[" * 8 + "]" * 8 + "}"
    refused(post(client, body, key), 400, "nested too deeply")


def test_brackets_and_escaped_quotes_inside_the_review_are_just_text(client, key):
    text = 'he said \\"[[[[[[[[[[{{{{{{{{{{" and left, a superb film ' + "[" * 50
    body = json.dumps({"text": text, "extra": {"a": [[1]]}})
    assert post(client, body, key).status_code == 200
    assert Prediction.objects.get().text == text


def test_a_body_larger_than_any_review_needs_is_refused_unread(client, key):
    body = json.dumps({"text": "x" * 5 * 2**20})
    refused(post(client, body, key), 413, "bytes; one review (at most 20,000 characters) needs at most")


def test_the_longest_review_written_as_escaped_emoji_still_fits(client, key, settings):
    settings.MAX_REVIEW_CHARS = 2000  # well above the margin: the bytes per character decide
    body = json.dumps({"text": "\U0001f600" * 2000})  # 12 bytes a character, as json.dumps writes it
    assert post(client, body, key).status_code == 200


def test_get_is_refused_in_json_with_the_allowed_method(client):
    response = client.get(URL)
    refused(response, 405, "Use POST")
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("body", ["[]", '["a superb film"]', '"a superb film"', "42", "null"])
def test_a_body_that_is_not_an_object_is_refused(client, key, body):
    refused(post(client, body, key), 400, "must be a JSON object")


def test_a_body_that_is_not_utf8_is_refused(client, key):
    refused(post(client, b'{"text": "caf\xe9 au lait"}', key), 400, "UTF-8")


def test_a_body_that_is_not_json_says_where(client, key):
    message = refused(post(client, '{"text": "fine",}', key), 400, "must be JSON")
    assert "at character" in message


def test_a_body_that_is_not_sent_as_json_is_refused(client, key):
    message = refused(post(client, "text=fine", key, "application/x-www-form-urlencoded"), 415, "Content-Type")
    assert "application/x-www-form-urlencoded" in message


def test_a_revoked_key_gets_a_json_401_and_costs_nothing(client, key, person):
    [token] = person.api_tokens.all()
    api_token_revoke(user=person, token_id=token.pk)
    refused(post(client, json.dumps({"text": "a superb film"}), key), 401, "was revoked")


# --- API v1: every operation that reads a JSON body -------------------------------------------------


def json_body_operations() -> list[tuple[str, str]]:
    """(method, path under /api/v1 with every id filled in by ``concrete``) of each operation whose schema
    says it reads a JSON body: read from the schema, so a new one cannot be forgotten."""
    from sentiment.api_v1.site import api

    return [
        (method.upper(), path.removeprefix("/api/v1"))
        for path, methods in api.get_openapi_schema()["paths"].items()
        for method, operation in methods.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def v1_refused(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["code"] == "invalid"
    return error


@pytest.fixture
def v1(client, staff, served_run):
    """``send(method, path, raw body)`` to API v1 as staff (every operation answers them), ids filled in;
    afterwards nothing was created."""
    from sentiment.models import ApiToken, Feedback, Promotion, TrainingRun

    key = api_token_create(user=staff, name="hostile v1", scope="staff")
    prediction = review_classify(user=staff, text="A wonderful film.")
    before = (Prediction.objects.count(), ApiToken.objects.count(), Feedback.objects.count(),
              TrainingRun.objects.count(), Promotion.objects.count())  # fmt: skip

    client.force_login(staff)  # for the operations that take the signed-in person alone (keys)

    def send(method: str, path: str, body: str):
        concrete = path.replace("{prediction_id}", str(prediction.pk)).replace("{run_id}", str(served_run.pk))
        auth = {} if session_only(method, path) else {"HTTP_AUTHORIZATION": f"Bearer {key}"}
        return client.generic(method, f"/api/v1{concrete}", body, content_type="application/json", **auth)

    yield send
    after = (Prediction.objects.count(), ApiToken.objects.count(), Feedback.objects.count(),
             TrainingRun.objects.count(), Promotion.objects.count())  # fmt: skip
    assert after == before


@pytest.mark.parametrize("body", ["[null]", "[]", '"x"', "5", "null", "true"])
@pytest.mark.parametrize(("method", "path"), json_body_operations())
def test_v1_refuses_a_json_body_that_is_not_an_object(v1, method, path, body):
    assert "must be a JSON object" in v1_refused(v1(method, path, body))["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(("method", "path"), json_body_operations())
def test_v1_refuses_numbers_that_json_does_not_have(v1, method, path, constant):
    assert constant in v1_refused(v1(method, path, f'{{"x": {constant}}}'))["message"]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\udc00y", "\\ud83d\\u0041"])
@pytest.mark.parametrize(("method", "path"), json_body_operations())
def test_v1_refuses_half_a_character(v1, method, path, escape):
    assert "half of a character" in v1_refused(v1(method, path, f'{{"x": "{escape}"}}'))["message"]


def test_v1_takes_a_whole_character_written_as_two_escapes(v1):
    response = v1("POST", "/classify", '{"text": "A superb film \\ud83d\\ude00"}')
    assert response.status_code == 200 and response.json()["text"] == "A superb film \U0001f600"
    Prediction.objects.filter(pk=response.json()["id"]).delete()  # the fixture counts what is left


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"no boundary said"),
        ("multipart/form-data; boundary=", b"an empty boundary"),
        ("multipart/form-data; boundary=\xe9t\xe9", b"--\xe9t\xe9\r\nbroken"),
        (
            "multipart/form-data; boundary=b",
            b"".join(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % n for n in range(1001))
            + b"--b--\r\n",
        ),  # too many fields
    ],
)
def test_v1_refuses_a_broken_upload_in_its_error_shape(client, person, served_run, content_type, body):
    from sentiment.models import CsvClassification

    key = api_token_create(user=person, name="hostile upload")
    response = client.generic(
        "POST", "/api/v1/csv", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not CsvClassification.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preset": "smoke", "data_folder": "0" * 300}, "data_folder"),  # longer than a file name can be
        ({"preset": "smoke", "data_folder": "/" + "a" * 300}, "data_folder"),
        ({"preset": "smoke", "config": {"base_model": "~/" + "é" * 200}}, "config.base_model"),
        ({"preset": "smoke", "data_folder": "~no-such-person/reviews"}, "data_folder"),  # no home to expand
    ],
)
def test_v1_refuses_a_folder_no_file_system_can_name(client, staff, body, field):
    from sentiment.models import TrainingRun

    key = api_token_create(user=staff, name="hostile launch", scope="staff")
    response = client.post("/api/v1/runs", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"] and not TrainingRun.objects.exists()
