"""API v1: classify one review or a batch, read your predictions, say one was wrong; errors in one shape."""

import pytest

from sentiment.models import Feedback, Prediction
from sentiment.services.api_tokens import api_token_revoke
from sentiment.services.classify import review_classify

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def test_classify_answers_and_saves_the_prediction(call, key, served_run):
    response = call("POST", "/classify", key=key, json={"text": "A wonderful, brilliant film."})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["label"] in ("positive", "negative") and 0.5 <= answer["probability"] <= 1
    assert answer["run"] == served_run.pk and answer["runtime"] and answer["feedback"] is None
    assert Prediction.objects.get(pk=answer["id"]).text == "A wonderful, brilliant film."


def test_the_batch_answers_in_order_in_one_call(call, key, served_run):
    reviews = [f"Review number {n}: {'superb' if n % 2 else 'dreadful'}." for n in range(12)]
    response = call("POST", "/classify/batch", key=key, json={"reviews": reviews})
    assert response.status_code == 200, response.content
    answers = response.json()["answers"]
    assert [a["text"] for a in answers] == reviews
    assert [a["id"] for a in answers] == sorted(a["id"] for a in answers)
    single = [call("POST", "/classify", key=key, json={"text": text}).json() for text in reviews[:3]]
    assert [a["label"] for a in answers[:3]] == [a["label"] for a in single]  # a batch answers as one by one


def test_the_batch_has_a_limit_and_one_bad_review_saves_nothing(call, key, served_run, settings):
    too_many = call("POST", "/classify/batch", key=key, json={"reviews": ["ok"] * (settings.API_BATCH_MAX + 1)})
    assert too_many.status_code == 400 and "reviews" in error_of(too_many)["fields"]
    empty = call("POST", "/classify/batch", key=key, json={"reviews": []})
    assert empty.status_code == 400
    one_bad = call("POST", "/classify/batch", key=key, json={"reviews": ["fine", "  ", "good"]})
    assert one_bad.status_code == 400 and set(error_of(one_bad)["fields"]) == {"reviews.1"}  # the second one
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "text"), ({"text": 5}, "text"), ({"text": "ok", "explain": "maybe"}, "explain")],
)
def test_a_request_that_does_not_match_the_schema_names_the_field(call, key, served_run, body, field):
    response = call("POST", "/classify", key=key, json=body)
    assert response.status_code == 400
    assert field in error_of(response)["fields"] and error_of(response)["code"] == "invalid"


def test_bodies_are_refused_before_they_cost(call, key, served_run, client):
    deep = call("POST", "/classify", key=key, json="[" * 100_000)
    assert deep.status_code == 400 and "nested too deeply" in error_of(deep)["message"]
    not_json = client.post("/api/v1/classify", data="text=hi", content_type="text/plain",
                           HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert not_json.status_code == 415 and error_of(not_json)["code"] == "unsupported_media_type"
    broken = call("POST", "/classify", key=key, json='{"text": ')
    assert broken.status_code == 400 and "must be JSON" in error_of(broken)["message"]
    long = call("POST", "/classify", key=key, json={"text": "x" * 20_001})
    assert long.status_code == 400 and "20,000" in error_of(long)["message"]


def test_without_a_model_served_the_answer_is_503(call, key):
    response = call("POST", "/classify", key=key, json={"text": "A fine film."})
    assert response.status_code == 503 and error_of(response)["code"] == "no_model"


def test_no_key_a_wrong_key_and_a_revoked_key_are_401(call, key, person, served_run):
    assert error_of(call("POST", "/classify", json={"text": "hi"}))["code"] == "unauthorized"
    wrong = call("GET", "/predictions", key="rs_not-a-key")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"] == "Bearer"
    token = person.api_tokens.get()
    api_token_revoke(user=person, token_id=token.pk)
    revoked = call("GET", "/predictions", key=key)
    assert revoked.status_code == 401 and "revoked" in error_of(revoked)["message"]


def test_the_site_session_works_for_the_browser(client, person, served_run):
    client.force_login(person)
    response = client.post("/api/v1/classify", data={"text": "A moving film."}, content_type="application/json")
    assert response.status_code == 200 and response.json()["label"]


def test_predictions_list_filters_and_pages(call, key, person, served_run, django_user_model):
    for text in ("A superb film.", "A dreadful, boring film.", "Superb acting, superb story."):
        review_classify(user=person, text=text)
    someone = django_user_model.objects.create_user("else", password="pw-else-123")
    review_classify(user=someone, text="Superb, but not yours.")
    listed = call("GET", "/predictions", key=key).json()
    assert listed["count"] == 3 and listed["items"][0]["text"] == "Superb acting, superb story."
    assert call("GET", "/predictions?q=superb", key=key).json()["count"] == 2
    label = listed["items"][0]["label"]
    assert all(p["label"] == label for p in call("GET", f"/predictions?label={label}", key=key).json()["items"])
    assert call("GET", "/predictions?since=2999-01-01T00:00:00Z", key=key).json()["count"] == 0
    assert call("GET", "/predictions?label=meh", key=key).status_code == 400
    paged = call("GET", "/predictions?page=2&page_size=2", key=key).json()
    assert paged["count"] == 3 and len(paged["items"]) == 1


def test_one_prediction_and_its_feedback(call, key, person, served_run, django_user_model):
    prediction = review_classify(user=person, text="A wonderful film. Not.")
    wrong = "negative" if prediction.label == "positive" else "positive"
    assert call("GET", f"/predictions/{prediction.pk}", key=key).json()["text"] == "A wonderful film. Not."
    given = call("POST", f"/predictions/{prediction.pk}/feedback", key=key,
                 json={"correct_label": wrong, "comment": "ironic"})  # fmt: skip
    assert given.status_code == 201
    assert given.json() == {
        "prediction": prediction.pk,
        "correct_label": wrong,
        "comment": "ironic",
        "status": "pending",
    }
    assert call("GET", f"/predictions/{prediction.pk}", key=key).json()["feedback"]["status"] == "pending"
    same = call("POST", f"/predictions/{prediction.pk}/feedback", key=key, json={"correct_label": prediction.label})
    assert same.status_code == 409 and error_of(same)["code"] == "conflict"
    bad = call("POST", f"/predictions/{prediction.pk}/feedback", key=key, json={"correct_label": "meh"})
    assert bad.status_code == 400 and "correct_label" in error_of(bad)["fields"]
    someone = django_user_model.objects.create_user("else", password="pw-else-123")
    theirs = review_classify(user=someone, text="Not yours.")
    assert call("GET", f"/predictions/{theirs.pk}", key=key).status_code == 404
    feedback = call("POST", f"/predictions/{theirs.pk}/feedback", key=key, json={"correct_label": "positive"})
    assert feedback.status_code == 404 and error_of(feedback)["code"] == "not_found"
    assert Feedback.objects.count() == 1


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(call, key, served_run, settings):
    settings.RATE_LIMIT_API_KEY = "2/m"
    for _ in range(2):
        assert call("POST", "/classify", key=key, json={"text": "A fine film."}).status_code == 200
    limited = call("POST", "/classify", key=key, json={"text": "A fine film."})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert error_of(limited)["code"] == "too_many_requests"
