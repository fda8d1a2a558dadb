"""The JSON API: classify a review with the served model, and say an answer was wrong; authenticated by
an API key.

    curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
         -d '{"text": "A moving, beautifully acted film."}' http://127.0.0.1:8000/api/classify
    curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
         -d '{"correct_label": "negative"}' http://127.0.0.1:8000/api/predictions/42/feedback

Thin like the pages: it parses the request, calls the same service as the form, and answers JSON.

Every answer is JSON, failures included: a script reads one format, and Django's HTML error pages mean
nothing to it. A hostile body is refused before it costs much: one larger than any single review needs
is refused unread (413), and one nested deeper than the API reads is refused before the JSON parser
recurses into it (400; thousands of nested ``[`` exhaust Python's recursion limit).
"""

from __future__ import annotations

import json
import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sentiment import limits
from sentiment.json_limits import BYTES_PER_CHAR, MARGIN_BYTES, MAX_DEPTH, TOO_DEEP, content_length, nesting_depth
from sentiment.selectors.api_tokens import api_token_check
from sentiment.selectors.predictions import prediction_list
from sentiment.services.api_tokens import api_key_in, api_token_used
from sentiment.services.classify import prediction_explanation_request, review_classify
from sentiment.services.feedback import prediction_feedback_give
from sentiment.services.serving import NoModelServed

logger = logging.getLogger(__name__)

EXAMPLE = '{"text": "A moving film."}'
FEEDBACK_EXAMPLE = '{"correct_label": "positive", "comment": "it is ironic"}'


class _Refusal(Exception):
    """A request the API answers with ``status`` and a message for the person who sent it."""

    def __init__(self, status: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers)


def _answers_json(view):
    """A refusal becomes its JSON answer; anything unexpected a JSON 500, logged with its traceback
    (left alone, Django would answer its HTML error page)."""

    @wraps(view)
    def json_view(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _Refusal as refusal:
            return _error(refusal.status, str(refusal), refusal.headers)
        except Exception:
            logger.exception("The API failed on %s %s", request.method, request.path)
            return _error(500, "Something went wrong on our side (it is logged); please try again later.")

    return json_view


@csrf_exempt  # no cookies: the API key in the Authorization header is the credential
@_answers_json
def classify(request):
    if request.method != "POST":
        raise _Refusal(405, f"Use POST, with the review as JSON in the body, e.g. {EXAMPLE}.", Allow="POST")
    user = _caller(request)
    body = _review_body(request)
    try:
        prediction = review_classify(user=user, text=body["text"])
        answer = {
            "id": prediction.pk,
            "label": prediction.label,
            "probability": round(prediction.probability, 4),
            "model": prediction.model_name,
            "run": prediction.run_id,
            "runtime": prediction.runtime,
        }
        if body["explain"]:
            answer.update(_explanation(request, prediction))
    except ValidationError as exc:
        raise _Refusal(400, " ".join(exc.messages)) from None
    except NoModelServed as exc:
        raise _Refusal(503, str(exc)) from None
    return JsonResponse(answer)


def _explanation(request, prediction) -> dict:
    """The answer's explanation, or why there is none: the answer itself is already saved, so a limit
    reached or a model that cannot explain is said in the answer, not by failing it."""
    retry_after = limits.EXPLAIN.wait(request)
    if retry_after is not None:
        return {"explanation_error": f"Too many explanations: try again in {retry_after} s."}
    try:
        job = prediction_explanation_request(prediction=prediction, user=prediction.user)
    except ValidationError as exc:
        return {"explanation_error": " ".join(exc.messages)}
    if job.status == job.Status.SUCCEEDED:
        return {"explanation": job.result}
    if job.status == job.Status.FAILED:
        return {"explanation_error": job.error}
    # a worker works it out (analysis): API v1 answers it when it is done
    return {"explanation_url": f"/api/v1/predictions/{prediction.pk}/explanation"}


@csrf_exempt
@_answers_json
def prediction_feedback(request, prediction_id: int):
    """The caller says one of their answers was wrong: {"correct_label": "positive", "comment": "..."}."""
    if request.method != "POST":
        raise _Refusal(405, f"Use POST, with JSON in the body, e.g. {FEEDBACK_EXAMPLE}.", Allow="POST")
    user = _caller(request)
    prediction = prediction_list(user=user).filter(pk=prediction_id).first()
    if prediction is None:
        raise _Refusal(404, f"You have no prediction #{prediction_id}.")
    body = _json_object(request, cap=MARGIN_BYTES, example=FEEDBACK_EXAMPLE)
    label, comment = body.get("correct_label"), body.get("comment", "")
    if not isinstance(label, str) or not isinstance(comment, str):
        raise _Refusal(400, f'Give "correct_label" (and optionally "comment") as strings, e.g. {FEEDBACK_EXAMPLE}.')
    try:
        feedback = prediction_feedback_give(prediction=prediction, correct_label=label, comment=comment)
    except ValidationError as exc:
        raise _Refusal(400, " ".join(exc.messages)) from None
    return JsonResponse(
        {"prediction": prediction.pk, "correct_label": feedback.correct_label, "status": feedback.status}, status=201
    )


def _caller(request):
    """The user whose valid API key is in the Authorization header, or a 401 that says what is wrong."""
    check = api_token_check(key=api_key_in(request.headers.get("Authorization", "")))
    if check.token is None:
        raise _Refusal(401, check.refusal, **{"WWW-Authenticate": "Bearer"})
    api_token_used(token=check.token)
    return check.token.user


def _review_body(request) -> dict:
    """The "text" and "explain" of the JSON body, or a refusal that says what is wrong with the body."""
    cap = settings.MAX_REVIEW_CHARS * BYTES_PER_CHAR + MARGIN_BYTES
    what = f"one review (at most {settings.MAX_REVIEW_CHARS:,} characters)"
    data = _json_object(request, cap=cap, example=EXAMPLE, what=what)
    text = data.get("text")
    if not isinstance(text, str):
        raise _Refusal(400, 'Give the review as a string in "text".')
    explain = data.get("explain", False)
    if not isinstance(explain, bool):
        raise _Refusal(400, '"explain" must be true or false.')
    return {"text": text, "explain": explain}


def _json_object(request, *, cap: int, example: str, what: str = "this request") -> dict:
    """The JSON object in the body, at most ``cap`` bytes, or a refusal that says what is wrong with it."""
    size = content_length(request)  # the announced size first: a huge body is never read
    if size <= cap:
        size = len(request.body)  # what arrived: under ASGI it can be more than announced
    if size > cap:
        raise _Refusal(413, f"The body is {size:,} bytes; {what} needs at most {cap:,}.")
    if request.content_type != "application/json":
        got = f'"{request.content_type}"' if request.content_type else "none"
        raise _Refusal(415, f'Send the body as JSON with "Content-Type: application/json" (got {got}).')
    try:
        body = request.body.decode("utf-8-sig") or "{}"
    except UnicodeDecodeError as exc:
        raise _Refusal(400, f"The body must be UTF-8 encoded JSON (byte {exc.start} is not UTF-8).") from None
    if nesting_depth(body) > MAX_DEPTH:
        raise _Refusal(400, TOO_DEEP)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise _Refusal(400, f"The body must be JSON, e.g. {example} ({exc.msg} at character {exc.pos}).") from None
    except RecursionError:  # not expected after the depth check: a last guard for the process
        raise _Refusal(400, TOO_DEEP) from None
    if not isinstance(data, dict):
        raise _Refusal(400, f"The body must be a JSON object, e.g. {example}.")
    return data
