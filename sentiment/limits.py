"""How often one API key, person or address may ask for costly work: each classification runs the model
and stores the review, each CSV upload queues work for the worker, each explanation reads a review again
up to 41 times.

Requests are counted with django-ratelimit in Django's cache, which is Redis, so a limit holds across
every web process. A request past its limit is answered 429 Too Many Requests with ``Retry-After`` (the
seconds until the window ends), in JSON for the API. When Redis does not answer, requests go through
(and a warning is logged): the limits protect the service, they must not take it down with Redis.

Rates are settings (``RATE_LIMIT_*``, "count/period" as in ``30/m``), read at each request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The address of whoever sent the request. Behind the compose stack's proxy (``TRUST_X_FORWARDED_FOR``)
    it is the one the proxy put last in X-Forwarded-For; the proxy's own address would count everyone
    as one client."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.TRUST_X_FORWARDED_FOR and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def api_key_of(group: str, request: HttpRequest) -> str:
    """The API key as sent (the cache key stores only its hash), so that each key has its own count."""
    return request.headers.get("Authorization", "").strip()


def person_or_ip(group: str, request: HttpRequest) -> str:
    return f"user:{request.user.pk}" if request.user.is_authenticated else f"ip:{client_ip(request)}"


def by_ip(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def rate_limited(
    *limits: tuple[str, Callable[[str, HttpRequest], str]], json: bool = False, methods: tuple[str, ...] = ("POST",)
):
    """A view decorator: each ``(rate setting name, key function)`` is a separate limit on the requests of
    ``methods`` (POSTs: a page that costs work on GET, like an explanation, names GET too)."""

    def decorator(view):
        @wraps(view)
        def limited_view(request: HttpRequest, *args, **kwargs):
            for rate_setting, key in limits:
                retry_after = over_limit(request, group=f"{view.__module__}.{view.__name__}.{rate_setting}",
                                         rate_setting=rate_setting, key=key, methods=methods)  # fmt: skip
                if retry_after is not None:
                    return too_many_requests(request, retry_after=retry_after, json=json)
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


def over_limit(
    request: HttpRequest, *, group: str, rate_setting: str, key, methods: tuple[str, ...] = ("POST",)
) -> int | None:
    """Counts this request; seconds to wait when it is past the limit, else None (also when Redis is away).
    For a limit on part of a view (the API's ``explain``), with ``too_many_requests`` to answer."""
    try:
        usage = get_usage(
            request, group=group, key=key, rate=getattr(settings, rate_setting), method=list(methods), increment=True
        )
    except RedisError as exc:
        logger.warning("rate limits not counted, Redis does not answer: %s", exc)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def too_many_requests(request: HttpRequest, *, retry_after: int, json: bool) -> HttpResponse:
    message = f"Too many requests: try again in {retry_after} s."
    if json:
        response = JsonResponse({"error": message}, status=429)
    else:
        response = render(request, "sentiment/too_many_requests.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
