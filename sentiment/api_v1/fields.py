"""The rules each kind of value in API v1 must meet, stated once: pydantic enforces them on every request
and writes them into the OpenAPI schema, so the schema says exactly what the server accepts.

Patterns are written in the syntax JSON Schema's (ECMA-262) regular expressions, pydantic's and Python's
share (``\\xHH``, ``\\uHHHH``, classes); each has a sentence for people (``PATTERN_MEANS``), which the error
handler answers instead of the pattern itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from django.conf import settings
from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

from sentiment.services.classify import CONTROL_CHARACTERS
from sentiment.services.feedback import MAX_COMMENT_CHARS
from sentiment.services.promotions import MAX_REASON_CHARS, MIN_REASON_CHARS

# What Python's str.strip() removes (every character whose isspace() is true) and what ECMA-262 calls white
# space (the same, and U+FEFF): a text made of these alone is blank, for the schema and for the services.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# The control characters no review may hold (review_clean's rule: all but tab and line breaks), and the white
# space that is not one of them.
CONTROL = CONTROL_CHARACTERS.pattern.removeprefix("[").removesuffix("]")
SPACE = r"\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# PostgreSQL cannot store U+0000 in a text column: no text the API reads may hold it.
NO_NUL = r"^[^\x00]*$"
# Each pattern is unambiguous (white space, then the first character that is not, ...), so that a
# backtracking engine reading it takes linear time too.
# A review: one character at least that is not white space, and no control character.
REVIEW = rf"^[{SPACE}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$"
# A reason: MIN_REASON_CHARS from its first to its last character that is not white space, and no NUL.
REASON = rf"^[{WHITESPACE}]*[^\x00{WHITESPACE}][^\x00]{{{MIN_REASON_CHARS - 2},}}[^\x00{WHITESPACE}][{WHITESPACE}]*$"
# An HTTP header's value as the Idempotency-Key: printable ASCII, not blank.
PRINTABLE_ASCII = r"^[ -~]*[!-~][ -~]*$"

PATTERN_MEANS = {
    NO_NUL: "must not hold a NUL character (U+0000)",
    REVIEW: "must hold a character other than white space, and no control characters (such as NUL; tabs and "
    "line breaks are text)",
    REASON: f"must be a few words: at least {MIN_REASON_CHARS} characters besides white space at either end, "
    "and no NUL character (U+0000)",
    PRINTABLE_ASCII: "must be printable ASCII, not blank",
}


def text(*, pattern: str = NO_NUL, max_length: int, min_length: int | None = None, **field):
    """A string of at most ``max_length`` characters (code points, as JSON Schema counts them) matching
    ``pattern``: ``Annotated[StrictStr, text(...)]``."""
    return Field(pattern=pattern, max_length=max_length, min_length=min_length, **field)


ReviewText = Annotated[
    StrictStr,
    text(pattern=REVIEW, min_length=1, max_length=settings.MAX_REVIEW_CHARS,
         description=f"A review: at most {settings.MAX_REVIEW_CHARS:,} characters, not blank."),
]  # fmt: skip
Reason = Annotated[
    StrictStr,
    text(pattern=REASON, min_length=MIN_REASON_CHARS, max_length=MAX_REASON_CHARS,
         description=f"Why, in a few words ({MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters): kept in the "
                     "audit trail."),
]  # fmt: skip
Comment = Annotated[StrictStr, text(max_length=MAX_COMMENT_CHARS)]
KeyName = Annotated[StrictStr, text(max_length=100)]
Filter = Annotated[str, text(max_length=200)]  # a text filter of a list (query parameters are text)


def _whole_number(value):
    """JSON Schema's integer is a number without a fraction: 3.0 as much as 3 (a client may send either)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = BeforeValidator(_whole_number)
WholeNumber = Annotated[StrictInt, Whole]
Id = Annotated[StrictInt, Field(ge=1), Whole]  # a row's id in a body (a path's id is read from the URL's text)

# RFC 3339's date and time with its offset (what JSON Schema's "date-time" format is), as a query parameter:
# pydantic alone would also read a number of seconds ("0.5") or a date without a time as a moment.
RFC_3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def _rfc_3339(value):
    if isinstance(value, str) and not RFC_3339.fullmatch(value):
        raise PydanticCustomError(
            "datetime_rfc_3339", "must be a date and time with its offset, e.g. 2026-01-31T18:00:00Z (RFC 3339)"
        )
    return value


def _in_utc(value: datetime) -> datetime:
    """The moment in UTC, for every database: PostgreSQL refuses an offset past 15:59, which RFC 3339 allows
    (up to 23:59); one before the year 1 or after 9999 in UTC, which Python cannot hold, is the first or the
    last moment it can (the same rows are before or after it)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC) if value.year == 1 else datetime.max.replace(tzinfo=UTC)


Moment = Annotated[datetime, BeforeValidator(_rfc_3339), AfterValidator(_in_utc)]
