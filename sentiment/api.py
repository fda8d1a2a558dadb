"""The first JSON API, kept for the clients written for it: classify a review with the served model, and
say an answer was wrong; authenticated by an API key.

    curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
         -d '{"text": "A moving, beautifully acted film."}' http://127.0.0.1:8000/api/classify
    curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
         -d '{"correct_label": "negative"}' http://127.0.0.1:8000/api/predictions/42/feedback

**Deprecated**: API v1 (``sentiment.api_v1``) does all of it and more. Every answer says so, failures
included (RFC 9745): ``Deprecation`` with the date it was deprecated, and ``Link`` to v1's documentation
(``rel="deprecation"``) and to the v1 endpoint that replaces this one (``rel="successor-version"``).

A thin adapter over API v1's own code: the same key check (``ApiKey``), rate limits (``within_limits``),
body guards (``json_text``), explanations (``explanation_of``) and services, refusing with v1's
``ApiError``. Only the answers keep this API's shape for its clients: the fields it always had, and every
failure as ``{"error": "<message>"}`` with its status (never Django's HTML error pages, which mean
nothing to a script), the messages as they were.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from sentiment import limits
from sentiment.api_v1.auth import ApiKey
from sentiment.api_v1.bodies import json_text
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.predictions import explanation_of
from sentiment.api_v1.throttle import within_limits
from sentiment.json_limits import BYTES_PER_CHAR, MARGIN_BYTES, TOO_DEEP
from sentiment.selectors.predictions import prediction_list
from sentiment.services.api_tokens import api_key_in
from sentiment.services.classify import review_classify
from sentiment.services.feedback import prediction_feedback_give
from sentiment.services.serving import NoModelServed

logger = logging.getLogger(__name__)

EXAMPLE = '{"text": "A moving film."}'
FEEDBACK_EXAMPLE = '{"correct_label": "positive", "comment": "it is ironic"}'
DEPRECATED_ON = datetime(2026, 12, 7, tzinfo=UTC)
KEY = ApiKey()  # API v1's key check: a key of either API is the same key


def _deprecated(response: HttpResponse, *, successor: str) -> HttpResponse:
    """Mark an answer of this API deprecated (RFC 9745: the date as ``@`` and seconds since 1970), with
    where to read about v1 and the URL of the v1 endpoint that succeeds this one."""
    response["Deprecation"] = f"@{int(DEPRECATED_ON.timestamp())}"
    docs = reverse("api-v1:openapi-view")
    response["Link"] = f'<{docs}>; rel="deprecation"; type="text/html", <{successor}>; rel="successor-version"'
    return response


def _answers_json(*, successor: str):
    """Every request of a view of this API answered in its shape: a refusal (v1's ``ApiError``) as
    ``{"error": message}`` with the error's status and headers; anything unexpected a JSON 500, logged with
    its traceback (left alone, Django would answer its HTML error page). Each answer, whichever, is marked
    deprecated, with ``successor`` (the v1 endpoint's URL name, given the view's own arguments) to use instead."""

    def decorator(view):
        @csrf_exempt  # no cookies: the API key in the Authorization header is the credential
        @wraps(view)
        def json_view(request, *args, **kwargs):
            try:
                response = view(request, *args, **kwargs)
            except ApiError as error:
                response = JsonResponse({"error": str(error)}, status=error.status, headers=error.headers or None)
            except Exception:
                logger.exception("The API failed on %s %s", request.method, request.path)
                message = "Something went wrong on our side (it is logged); please try again later."
                response = JsonResponse({"error": message}, status=500)
            return _deprecated(response, successor=reverse(successor, kwargs=kwargs))

        return json_view

    return decorator


@_answers_json(successor="api-v1:classify")
def classify(request):
    if request.method != "POST":
        raise ApiError(
            "method_not_allowed", f"Use POST, with the review as JSON in the body, e.g. {EXAMPLE}.", Allow="POST"
        )
    within_limits(request, limits.API_KEY, limits.PERSON)
    user = _caller(request)
    body = _review_body(request)
    try:
        prediction = review_classify(user=user, text=body["text"])
    except ValidationError as exc:
        raise ApiError("invalid", " ".join(exc.messages)) from None
    except NoModelServed as exc:
        raise ApiError("no_model", str(exc)) from None
    answer = {
        "id": prediction.pk,
        "label": prediction.label,
        "probability": round(prediction.probability, 4),
        "model": prediction.model_name,
        "run": prediction.run_id,
        "runtime": prediction.runtime,
    }
    if body["explain"]:
        answer.update(explanation_of(request, prediction))
    return JsonResponse(answer)


@_answers_json(successor="api-v1:prediction_feedback")
def prediction_feedback(request, prediction_id: int):
    """The caller says one of their answers was wrong: {"correct_label": "positive", "comment": "..."}."""
    if request.method != "POST":
        raise ApiError("method_not_allowed", f"Use POST, with JSON in the body, e.g. {FEEDBACK_EXAMPLE}.", Allow="POST")
    within_limits(request, limits.API_KEY, limits.PERSON)
    user = _caller(request)
    prediction = prediction_list(user=user).filter(pk=prediction_id).first()
    if prediction is None:
        raise ApiError("not_found", f"You have no prediction #{prediction_id}.")
    body = _json_object(request, cap=MARGIN_BYTES, example=FEEDBACK_EXAMPLE)
    label, comment = body.get("correct_label"), body.get("comment", "")
    if not isinstance(label, str) or not isinstance(comment, str):
        raise ApiError(
            "invalid", f'Give "correct_label" (and optionally "comment") as strings, e.g. {FEEDBACK_EXAMPLE}.'
        )
    try:
        feedback = prediction_feedback_give(prediction=prediction, correct_label=label, comment=comment)
    except ValidationError as exc:
        raise ApiError("invalid", " ".join(exc.messages)) from None
    return JsonResponse(
        {"prediction": prediction.pk, "correct_label": feedback.correct_label, "status": feedback.status}, status=201
    )


def _caller(request):
    """The user whose valid API key is in the Authorization header, or a 401 that says what is wrong."""
    return KEY.authenticate(request, api_key_in(request.headers.get("Authorization", "")))


def _review_body(request) -> dict:
    """The "text" and "explain" of the JSON body, or a refusal that says what is wrong with the body."""
    cap = settings.MAX_REVIEW_CHARS * BYTES_PER_CHAR + MARGIN_BYTES
    what = f"one review (at most {settings.MAX_REVIEW_CHARS:,} characters)"
    data = _json_object(request, cap=cap, example=EXAMPLE, what=what)
    text = data.get("text")
    if not isinstance(text, str):
        raise ApiError("invalid", 'Give the review as a string in "text".')
    explain = data.get("explain", False)
    if not isinstance(explain, bool):
        raise ApiError("invalid", '"explain" must be true or false.')
    return {"text": text, "explain": explain}


def _json_object(request, *, cap: int, example: str, what: str = "this request") -> dict:
    """The JSON object in the body, at most ``cap`` bytes, or a refusal that says what is wrong with it."""
    body = json_text(request, cap=cap, what=what, typed_when_empty=True)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ApiError(
            "invalid", f"The body must be JSON, e.g. {example} ({exc.msg} at character {exc.pos})."
        ) from None
    except RecursionError:  # not expected after the depth check: a last guard for the process
        raise ApiError("invalid", TOO_DEEP) from None
    if not isinstance(data, dict):
        raise ApiError("invalid", f"The body must be a JSON object, e.g. {example}.")
    return data
