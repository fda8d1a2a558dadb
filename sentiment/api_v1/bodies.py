"""The JSON parser of API v1: django-ninja's, with the guards of ``sentiment.json_limits`` (``json_text``, which
the first API reads its bodies with too): a body larger than the largest request can need is refused unread
(413), one nested too deeply is refused before the parser recurses into it, and one that is not UTF-8 or not
JSON is said so (400).

Every body API v1 reads is a JSON object, of text that can be stored: anything else (``[null]``, ``"x"``,
``null``; ``NaN``, which JSON does not have; half of a character written as one ``\\u`` escape, which no
database stores) is refused here, once for every operation, before a schema or a service sees it."""

from __future__ import annotations

import json

from django.conf import settings
from ninja.parser import Parser

from sentiment.api_v1.errors import ApiError
from sentiment.json_limits import BYTES_PER_CHAR, MARGIN_BYTES, MAX_DEPTH, TOO_DEEP, content_length, nesting_depth


def largest_body() -> int:
    """A batch of the most reviews, each the longest one, each character at its longest in JSON."""
    return settings.API_BATCH_MAX * (settings.MAX_REVIEW_CHARS * BYTES_PER_CHAR + 16) + MARGIN_BYTES


def json_text(request, *, cap: int, what: str, typed_when_empty: bool = False) -> str:
    """The body as text ("{}" when empty), once it is at most ``cap`` bytes (what ``what`` needs), sent as
    JSON, in UTF-8 and nested no deeper than the API reads; else the ApiError that says which it is not.
    ``typed_when_empty``: an empty body too must say it is JSON (the first API's rule)."""
    size = content_length(request)  # the announced size first: a huge body is never read
    if size <= cap:
        size = len(request.body)  # what arrived: under ASGI it can be more than announced
    if size > cap:
        raise ApiError("too_large", f"The body is {size:,} bytes; {what} needs at most {cap:,}.")
    if (request.body or typed_when_empty) and request.content_type != "application/json":
        got = f'"{request.content_type}"' if request.content_type else "none"
        raise ApiError(
            "unsupported_media_type", f'Send the body as JSON with "Content-Type: application/json" (got {got}).'
        )
    try:
        body = request.body.decode("utf-8-sig") or "{}"
    except UnicodeDecodeError as exc:
        raise ApiError("invalid", f"The body must be UTF-8 encoded JSON (byte {exc.start} is not UTF-8).") from None
    if nesting_depth(body) > MAX_DEPTH:
        raise ApiError("invalid", TOO_DEEP)
    return body


class CheckedJson(Parser):
    def parse_body(self, request):
        body = json_text(request, cap=largest_body(), what="the largest request")
        try:
            data = json.loads(body, parse_constant=_not_json)
        except json.JSONDecodeError as exc:
            raise ApiError("invalid", f"The body must be JSON ({exc.msg} at character {exc.pos}).") from None
        if not isinstance(data, dict):
            raise ApiError("invalid", f"The body must be a JSON object {{...}}, not {_kind(data)}.")
        _whole_characters(data)
        return data


def _not_json(constant: str):
    raise ApiError("invalid", f"The body must be JSON: {constant} is not a JSON number.")


def _kind(value) -> str:
    return (
        "null" if value is None else {bool: "a boolean", list: "an array", str: "a string"}.get(type(value), "a number")
    )


def _whole_characters(value) -> None:
    """Refuse a string holding half of a character (a lone UTF-16 surrogate, from an escape like ``\\ud800``):
    it cannot be encoded, stored or answered."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            half = f"\\u{ord(value[exc.start]):04x}"
            raise ApiError("invalid", f"The body holds half of a character ({half}): send whole characters.") from None
    elif isinstance(value, dict):
        for item in (*value, *value.values()):
            _whole_characters(item)
    elif isinstance(value, list):
        for item in value:
            _whole_characters(item)
