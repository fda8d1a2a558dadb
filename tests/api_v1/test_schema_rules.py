"""API v1 accepts exactly what its schema says: every rule the server enforces is stated in the schema
(lengths, patterns, ranges, the page-size cap, the errors each operation answers), values of the wrong
type are refused rather than read as something else, and no input makes it answer 5xx."""

import json

import pytest

from sentiment.api_v1.site import api
from sentiment.models import ApiToken, Feedback, Prediction, Promotion, TrainingRun
from sentiment.services.classify import review_classify
from sentiment.services.feedback import feedback_review, prediction_feedback_give
from tests.api_v1.conftest import sent_as

pytestmark = pytest.mark.django_db
HUGE_PAGE = 461168601842738791  # (page - 1) * page_size overflows a 64-bit OFFSET
PAGED = ["/predictions", "/runs", "/serving/promotions"]


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def schema() -> dict:
    return json.loads(json.dumps(api.get_openapi_schema()))  # as served: status codes as text


def operation(method: str, path: str) -> dict:
    return schema()["paths"][f"/api/v1{path}"][method.lower()]


def query_parameter(path: str, name: str) -> dict:
    [parameter] = [p for p in operation("GET", path)["parameters"] if p["name"] == name]
    return parameter["schema"]


def body_schema(method: str, path: str) -> dict:
    ref = operation(method, path)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema()["components"]["schemas"][ref.rsplit("/", 1)[1]]


def plain(spec: dict) -> dict:
    """The non-null branch of an optional value's schema."""
    branches = [s for s in spec.get("anyOf", [spec]) if s.get("type") != "null"]
    assert len(branches) == 1, spec
    return branches[0]


# --- pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGED)
def test_a_page_number_past_any_page_is_refused_not_a_server_error(call, staff_key, path):
    refused = call("GET", f"{path}?page={HUGE_PAGE}", key=staff_key)
    assert error_of(refused, 400)["fields"].keys() == {"page"}
    last = query_parameter(path, "page")["maximum"]
    empty = call("GET", f"{path}?page={last}&page_size=100", key=staff_key)
    assert empty.status_code == 200 and empty.json()["items"] == []
    assert error_of(call("GET", f"{path}?page={last + 1}", key=staff_key), 400)["fields"].keys() == {"page"}


@pytest.mark.parametrize("path", PAGED)
def test_the_page_size_cap_is_in_the_schema_and_a_larger_one_is_refused(call, staff_key, path):
    cap = plain(query_parameter(path, "page_size"))["maximum"]
    assert call("GET", f"{path}?page_size={cap}", key=staff_key).status_code == 200
    assert error_of(call("GET", f"{path}?page_size={cap + 1}", key=staff_key), 400)["fields"].keys() == {"page_size"}


# --- strict types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/classify", {"text": "A fine film.", "explain": 0}, "explain"),
        ("/classify", {"text": "A fine film.", "explain": "true"}, "explain"),
        ("/keys", {"expires_in_days": "30"}, "expires_in_days"),
        ("/keys", {"name": 5}, "name"),
        ("/runs", {"preset": "smoke", "promote_when_done": 0}, "promote_when_done"),
        ("/runs", {"preset": "smoke", "config": {"num_train_epochs": "2"}}, "config.num_train_epochs"),
        ("/runs", {"preset": "smoke", "config": {"group_by_length": "false"}}, "config.group_by_length"),
        ("/runs", {"preset": "smoke", "config": {"max_length": 64.5}}, "config.max_length"),
        ("/serving/restore", {"reason": "roll back to the earlier model", "run": "1"}, "run"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(call, staff_key, staff, served_run, path, body, field):
    keys = ApiToken.objects.count()
    error = error_of(call("POST", path, json=body, **sent_as("POST", path, key=staff_key, user=staff)), 400)
    assert field in error["fields"], error
    assert (Prediction.objects.count(), ApiToken.objects.count(), TrainingRun.objects.count()) == (0, keys, 1)


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-01-01", "2026-01-01T00:00", "yesterday"])
@pytest.mark.parametrize("path", ["/predictions", "/runs"])
def test_a_date_that_is_not_an_iso_8601_date_and_time_is_refused(call, staff_key, path, value):
    for name in ("since", "until"):
        assert error_of(call("GET", f"{path}?{name}={value}", key=staff_key), 400)["fields"].keys() == {name}


RFC_3339_MOMENTS = [
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.5%2B02:00",
    "2026-01-01t00:00:00z",
    "2026-01-01T00:00:00-22:28",  # PostgreSQL refuses an offset past 15:59
    "0001-01-01T00:00:00%2B23:59",  # before the year 1 in UTC
    "9999-12-31T23:59:59-23:59",  # after 9999 in UTC
]


def test_every_date_and_time_rfc_3339_allows_is_taken_by_every_database(call, key, person, served_run):
    """Any offset RFC 3339 allows (up to 23:59), any year: the filter reads the moment in UTC, and one past
    what Python holds as the first or last moment."""
    review_classify(user=person, text="A wonderful film.")
    for value in RFC_3339_MOMENTS:
        for name in ("since", "until"):
            response = call("GET", f"/predictions?{name}={value}", key=key)
            assert response.status_code == 200, (value, response.content)
    assert call("GET", "/predictions?since=0001-01-01T00:00:00%2B23:59", key=key).json()["count"] == 1
    assert call("GET", "/predictions?until=9999-12-31T23:59:59-23:59", key=key).json()["count"] == 1


def test_a_field_the_body_does_not_have_is_refused_by_name(call, key, served_run):
    error = error_of(call("POST", "/classify", key=key, json={"text": "A fine film.", "explian": True}), 400)
    assert error["fields"].keys() == {"explian"} and not Prediction.objects.exists()
    assert body_schema("POST", "/classify")["additionalProperties"] is False


# --- texts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t\u3000\u00a0\u2028", "\x1c\x1f", "fine\x00film", "bell\x07", "\x1b[31m red", "\x0bfine"]
)
def test_a_review_that_is_blank_or_holds_a_control_character_is_refused_by_the_schema(call, key, served_run, text):
    assert "text" in error_of(call("POST", "/classify", key=key, json={"text": text}), 400)["fields"]
    error = error_of(call("POST", "/classify/batch", key=key, json={"reviews": ["A fine film.", text]}), 400)
    assert "reviews.1" in error["fields"] and not Prediction.objects.exists()


def test_the_review_rules_are_in_the_schema_and_are_the_servers(call, key, served_run, settings):
    text = plain(body_schema("POST", "/classify")["properties"]["text"])
    review = body_schema("POST", "/classify/batch")["properties"]["reviews"]
    assert text["maxLength"] == settings.MAX_REVIEW_CHARS and text["minLength"] == 1 and text["pattern"]
    rules = ("type", "minLength", "maxLength", "pattern")
    assert [review["items"][rule] for rule in rules] == [text[rule] for rule in rules]
    assert (review["minItems"], review["maxItems"]) == (1, settings.API_BATCH_MAX)
    longest = "x" * settings.MAX_REVIEW_CHARS
    assert call("POST", "/classify", key=key, json={"text": longest}).status_code == 200
    error = error_of(call("POST", "/classify", key=key, json={"text": longest + "x"}), 400)
    assert "20,000" in error["fields"]["text"]


@pytest.mark.parametrize(
    ("method", "path", "field", "longest"),
    [
        ("POST", "/predictions/{prediction_id}/feedback", "comment", 500),
        ("POST", "/keys", "name", 100),
        ("POST", "/runs/{run_id}/promote", "reason", 500),
        ("POST", "/serving/restore", "reason", 500),
    ],
)
def test_every_text_in_a_body_states_its_length_and_refuses_a_nul(
    call, staff_key, staff, served_run, method, path, field, longest
):
    spec = plain(body_schema(method, path)["properties"][field])
    assert spec["maxLength"] == longest and spec["pattern"]
    prediction = review_classify(user=staff, text="A wonderful film.")
    concrete = path.format(prediction_id=prediction.pk, run_id=served_run.pk)
    body = {"correct_label": "negative" if prediction.label == "positive" else "positive"} if "feedback" in path else {}
    for wrong in ("x" * (longest + 1), "a fine reason\x00"):
        sent = sent_as(method, concrete, key=staff_key, user=staff)
        error = error_of(call(method, concrete, json={**body, field: wrong}, **sent), 400)
        assert error["fields"].keys() == {field}, error


@pytest.mark.parametrize(("path", "name"), [("/predictions", "q"), ("/runs", "preset"), ("/runs", "launched_from")])
def test_a_text_filter_with_a_nul_is_refused(call, staff_key, path, name):
    assert error_of(call("GET", f"{path}?{name}=a%00b", key=staff_key), 400)["fields"].keys() == {name}


def test_a_search_longer_than_the_schema_allows_is_refused(call, key):
    longest = plain(query_parameter("/predictions", "q"))["maxLength"]
    assert call("GET", "/predictions?q=" + "x" * longest, key=key).status_code == 200
    assert error_of(call("GET", "/predictions?q=" + "x" * (longest + 1), key=key), 400)["fields"].keys() == {"q"}


@pytest.mark.parametrize("reason", [" \n ", "too short", "   too short   \n", "\u3000nine char\t"])
def test_a_reason_of_fewer_than_a_few_words_is_refused_by_the_schema(call, staff_key, finished_run, reason):
    assert plain(body_schema("POST", "/runs/{run_id}/promote")["properties"]["reason"])["minLength"] == 10
    error = error_of(call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={"reason": reason}), 400)
    assert error["fields"].keys() == {"reason"} and "at least 10 characters" in error["fields"]["reason"]
    assert not Promotion.objects.exists()


def test_an_idempotency_key_states_what_it_may_hold(call, staff_key):
    [header] = [p for p in operation("POST", "/runs")["parameters"] if p["name"] == "Idempotency-Key"]
    assert plain(header["schema"])["pattern"]
    error = error_of(call("POST", "/runs", key=staff_key, json={"preset": "smoke"}, HTTP_IDEMPOTENCY_KEY="   "), 400)
    assert error["fields"].keys() == {"Idempotency-Key"} and not TrainingRun.objects.exists()


# --- the launch's settings --------------------------------------------------------------------------


def test_the_launch_states_each_setting_it_takes_with_its_type(call, staff_key):
    launch = body_schema("POST", "/runs")
    assert "smoke" in launch["properties"]["preset"]["enum"]
    config = launch["properties"]["config"]
    assert config["additionalProperties"] is False and "output_dir" not in config["properties"]
    assert plain(config["properties"]["num_train_epochs"])["type"] == "number"
    assert plain(config["properties"]["max_length"])["type"] == "integer"
    assert plain(config["properties"]["group_by_length"])["type"] == "boolean"
    assert "bf16" in plain(config["properties"]["precision"])["enum"]


# --- state, not shape: conflicts ----------------------------------------------------------------------


def test_feedback_that_repeats_the_models_answer_is_a_documented_conflict(call, key, person, served_run):
    prediction = review_classify(user=person, text="A wonderful film.")
    same = call("POST", f"/predictions/{prediction.pk}/feedback", key=key, json={"correct_label": prediction.label})
    assert "already answered" in error_of(same, 409)["message"] and not Feedback.objects.exists()
    assert "409" in operation("POST", "/predictions/{prediction_id}/feedback")["responses"]


def test_every_operation_documents_the_servers_414_for_a_url_too_long():
    for path, methods in schema()["paths"].items():
        for method, documented in methods.items():
            assert "414" in documented["responses"], (method, path)


def test_feedback_after_staff_reviewed_it_is_a_conflict(call, key, person, staff, served_run):
    prediction = review_classify(user=person, text="A wonderful film.")
    wrong = "negative" if prediction.label == "positive" else "positive"
    feedback = prediction_feedback_give(prediction=prediction, correct_label=wrong)
    feedback_review(feedback_ids=[feedback.pk], status=Feedback.Status.ACCEPTED, user=staff)
    again = call("POST", f"/predictions/{prediction.pk}/feedback", key=key, json={"correct_label": wrong})
    assert "already reviewed" in error_of(again, 409)["message"]


def test_a_whole_number_written_with_a_fraction_is_an_integer(call, key, staff_key, served_run, person):
    """JSON Schema's integer is any number without a fraction: 30.0 is 30, as a generated client may send it."""
    assert plain(body_schema("POST", "/serving/restore")["properties"]["run"])["minimum"] == 1
    created = call("POST", "/keys", signed_in=person, json={"name": "notebook", "expires_in_days": 30.0})
    assert created.status_code == 201, created.content
    refused = call(
        "POST",
        "/serving/restore",
        key=staff_key,
        json={"reason": "roll back to the earlier model", "run": float(served_run.pk)},
    )
    assert "already served" in error_of(refused, 409)["message"]  # the run was found: its id was read
    launch = call("POST", "/runs", key=staff_key, json={"preset": "smoke", "config": {"max_length": 5.0}})
    assert "max_length" in error_of(launch, 400)["fields"]["config.max_length"]  # the form's range, not the type


@pytest.mark.parametrize("run", [2**63, 1e300, 10**400])
def test_an_id_past_any_row_is_not_found_not_a_server_error(call, staff_key, served_run, run):
    refused = call(
        "POST", "/serving/restore", key=staff_key, json={"reason": "roll back to the earlier model", "run": run}
    )
    assert refused.status_code in (400, 404), refused.content
