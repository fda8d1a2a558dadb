"""API v1: the NinjaAPI that holds every endpoint, its parser, its authentication and its error handlers.

django-ninja was chosen over Django REST framework because the API is a thin layer over the services,
and ninja gives exactly that: typed parameters and pydantic schemas that validate the requests and write
the OpenAPI schema, with Swagger UI bundled (served by the site, no CDN), in a small dependency.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestInvalid

from sentiment.api_v1 import csv_jobs, keys, monitor, predictions, runs, serving
from sentiment.api_v1.auth import NO_KEY, key_or_session
from sentiment.api_v1.bodies import CheckedJson
from sentiment.api_v1.errors import CODES, ApiError, answered, error_response
from sentiment.api_v1.fields import PATTERN_MEANS

logger = logging.getLogger(__name__)
REQUEST_PARTS = {"body", "query", "path", "header", "filters"}  # where a field is, left out of its name


class ReviewApi(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        """The endpoint's function name (``classify``, ``run_launch``): what a generated client names its
        calls, so a short, stable name rather than ninja's module path."""
        return operation.view_func.__name__


api = ReviewApi(
    title="Review sentiment API",
    version="1",
    description="Classify movie reviews with the served model, read your predictions and say when one is wrong, "
    "manage your API keys; staff manage training runs and the served model. Authenticate with "
    "`Authorization: Bearer <key>` (create a key on the site's API page, or **Authorize** here with it), or be "
    'signed in on the site. Every error is JSON: `{"error": {"code", "message", "fields"}}`.',
    auth=key_or_session(),
    parser=CheckedJson(),
    urls_namespace="api-v1",
)
api.add_router("", predictions.router)
api.add_router("", csv_jobs.router)
api.add_router("", keys.router)
api.add_router("", runs.router)
api.add_router("", serving.router)
api.add_router("", monitor.router)
api.add_exception_handler(ApiError, answered)


@api.exception_handler(RequestInvalid)
def _invalid(request, exc: RequestInvalid):
    """A request that does not match its schema: each field with what is wrong."""
    fields = {}
    for problem in exc.errors:
        where = [str(part) for part in problem.get("loc", ()) if part not in REQUEST_PARTS]
        fields[".".join(where) or "body"] = _said(problem)
    listed = "; ".join(f"{name}: {message}" for name, message in fields.items())
    return error_response(ApiError("invalid", f"The request is not valid: {listed}.", fields=fields))


def _said(problem: dict) -> str:
    """pydantic's message, in words where it would quote a pattern."""
    kind, limits = problem.get("type"), problem.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return PATTERN_MEANS.get(limits.get("pattern"), "is not in the form the schema says")
    if kind == "string_too_long":
        return f"must be at most {limits['max_length']:,} characters long"
    if kind == "string_too_short" and limits.get("min_length") == 1:
        return "must not be empty"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    return problem.get("msg", "invalid")


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    return error_response(ApiError("unauthorized", NO_KEY, **{"WWW-Authenticate": "Bearer"}))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(ApiError("not_found", "There is no such thing, or it is not yours."))


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return error_response(ApiError("forbidden", str(exc) or "You may not do this."))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, ApiError):  # ninja wraps what the parser raises ("Cannot parse request body")
        return error_response(exc.__cause__)
    known = {status: code for code, status in CODES.items()}
    return error_response(ApiError(known.get(exc.status_code, "invalid"), str(exc)))


@api.exception_handler(MultiPartParserError)
@api.exception_handler(SuspiciousOperation)
@api.exception_handler(UnreadablePostError)
def _unreadable(request, exc):
    """A body Django cannot read (a multipart upload without its boundary, more fields than it reads, a body
    cut off): the client's, said in the error shape, not a 500."""
    if isinstance(exc, RequestDataTooBig):
        return error_response(ApiError("too_large", f"The body is larger than the server reads: {exc}"))
    return error_response(ApiError("invalid", f"The body cannot be read as sent: {exc}"))


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("API v1 failed on %s %s", request.method, request.path)
    return error_response(ApiError("internal", "Something went wrong on our side (it is logged); try again later."))
