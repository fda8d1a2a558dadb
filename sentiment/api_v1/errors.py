"""Every failure of API v1 is JSON of one shape, ``{"error": {"code", "message", "fields"}}``: ``code`` is
stable for programs to branch on, ``message`` is a sentence for the person reading the log, ``fields`` maps
each field of the request that is wrong to what is wrong with it (empty when it is not about one field).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

# The status each code goes with: the schema documents them, the handlers answer them.
CODES = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "too_many_requests": 429,
    "internal": 500,
    "no_model": 503,
}


class ApiError(Exception):
    """A request API v1 refuses: ``code`` (one of ``CODES``) decides the status."""

    def __init__(self, code: str, message: str, *, fields: dict[str, str] | None = None, **headers: str) -> None:
        super().__init__(message)
        self.code, self.fields, self.headers = code, fields or {}, headers

    @property
    def status(self) -> int:
        return CODES[self.code]


def error_response(error: ApiError) -> HttpResponse:
    body = {"error": {"code": error.code, "message": str(error), "fields": error.fields}}
    return JsonResponse(body, status=error.status, headers=error.headers or None)


def answered(request: HttpRequest, error: ApiError) -> HttpResponse:
    """The handler django-ninja calls for an ``ApiError`` (its signature)."""
    return error_response(error)
