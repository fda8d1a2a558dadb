"""What a JSON body may cost before it is parsed, shared by both APIs (``sentiment.api`` and v1).

A body larger than its request can need is refused unread (the announced size first, then what arrived:
under ASGI it can be more than announced), and one nested deeper than the API reads is refused before the
JSON parser recurses into it (thousands of nested ``[`` exhaust Python's recursion limit).
"""

from __future__ import annotations

import itertools
import re

# The longest one character can be written in JSON is 12 bytes (an escaped emoji, "\ud83d\ude00"), so
# a body within MAX_REVIEW_CHARS x 12 + the margin (braces, the key, a few small fields) always fits.
BYTES_PER_CHAR, MARGIN_BYTES = 12, 4096
# {"text": ...} is one level deep; a few more let clients send fields the API ignores.
MAX_DEPTH = 8
TOO_DEEP = f"The JSON is nested too deeply: send one object, at most {MAX_DEPTH} levels deep."

# Nesting is measured with linear regular expressions, never by recursion: escapes go first, so that
# every string then ends at the next quote, and brackets inside strings do not count.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def content_length(request) -> int:
    """The announced body size; like Django, an unreadable header counts as no body."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def nesting_depth(body: str) -> int:
    """How deeply arrays and objects nest (exact for valid JSON, never less for the rest)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", body)))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)
