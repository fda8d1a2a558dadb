"""Rate limits of both APIs (v1, and the first one through it): the site's own (``sentiment.limits``),
counted per caller (the person, the key, the address), answered in the API's error shape: 429 with
``Retry-After``."""

from __future__ import annotations

from sentiment.api_v1.errors import ApiError
from sentiment.limits import ADDRESS, Limit, first_wait, try_again


def within_limits(request, *limits: Limit) -> None:
    """Count this request against the address's limit, then each of ``limits``; a 429 past any of them."""
    wait = first_wait(request, (ADDRESS, *limits))
    if wait is not None:
        raise ApiError("too_many_requests", try_again(wait), **{"Retry-After": str(wait)})
