"""Rate limits of API v1, counted in Redis like the rest of the site (``sentiment.limits``), answered in
v1's error shape: 429 with ``Retry-After``."""

from __future__ import annotations

from sentiment.api_v1.errors import ApiError
from sentiment.limits import by_ip, over_limit


def key_or_person(group: str, request) -> str:
    """The API key as sent (each key its own count), or the signed-in person for a browser on the site."""
    key = request.headers.get("Authorization", "").strip()
    return key or f"user:{request.user.pk}"


def within_limits(request, *rate_settings: str) -> None:
    """Count this request against each rate (per key or person), and the API's rate per address."""
    limits = [(name, key_or_person) for name in rate_settings] + [("RATE_LIMIT_IP", by_ip)]
    for rate_setting, key in limits:
        wait = over_limit(request, group=f"sentiment.api_v1.{rate_setting}", rate_setting=rate_setting, key=key)
        if wait is not None:
            message = f"Too many requests: try again in {wait} s."
            raise ApiError("too_many_requests", message, **{"Retry-After": str(wait)})
