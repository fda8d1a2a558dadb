"""How often one caller may ask for costly work: each classification runs the model and stores the review,
each CSV upload queues work for the worker, each explanation reads a review again up to 41 times.

**Limits count the caller**, once it is authenticated, never the spelling of a header: the person behind
a session or behind any of their API keys (one budget for the form, the session API and every key they
hold, so more keys buy nothing), the key itself (a key of a shared script, below its person's budget),
and the client's address for what arrives unauthenticated. The key is read from ``Authorization`` as the
APIs read it (``api_key_in``: "Bearer", "bearer" or "BEARER", one space or several), so any spelling of
one key is that key, and a wrong key counts against its address. A header sent by a signed-in browser
does not open a new budget: the session's person is the caller either way.

Every limit is named once here (``Limit``), with its setting (``RATE_LIMIT_*``, "count/period" as in
``30/m``, read at each request), what it counts per and which requests it counts; the group of its
counter is its setting, so every page and endpoint that uses a limit shares its count. Counts live in
Django's cache, which is Redis, across every web process. A request past its limit is answered 429 Too
Many Requests with ``Retry-After`` (the seconds until the window ends): a page here, and on both APIs
their JSON (``sentiment.api_v1.throttle``). When Redis does not answer, requests go through (and a
warning is logged): the limits protect the service, they must not take it down with Redis.

**One round trip a request.** A classification meets three limits (its address, its key, its person);
counted one at a time, as django-ratelimit counted them, that was up to six trips to Redis (an ``add``,
then an ``incr``) and about 1.5 ms of every answer (bench/RESULTS.md). Here one small Lua script counts
every limit of the request in one trip, in order, atomically, and stops at the first one past its rate,
so a refused request counts only as far as it got, as before. Each count lives in a fixed window of the
limit's period (a minute for ``/m``), shifted for each counted caller by a stable jitter so that not
every count restarts at the same second; its key expires with its window.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

from sentiment.services.api_tokens import api_key_in

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The address of whoever sent the request. Behind the compose stack's proxy (``TRUST_X_FORWARDED_FOR``)
    it is the one the proxy put last in X-Forwarded-For; the proxy's own address would count everyone
    as one client."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.TRUST_X_FORWARDED_FOR and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


@dataclass(frozen=True)
class Caller:
    """Who a request comes from, as the limits count it: a person (and the key they used), or an address."""

    user_id: int | None
    token_id: int | None
    address: str


def caller_of(request: HttpRequest) -> Caller:
    """The request's caller, worked out once per request: the signed-in person, else the owner of a valid
    API key in ``Authorization`` (one indexed lookup, kept on the request for the view's own check)."""
    found = getattr(request, "_limits_caller", None)
    if found is not None:
        return found
    from sentiment.selectors.api_tokens import api_token_check_once

    user = getattr(request, "user", None)
    token = getattr(request, "api_token", None)
    if token is None and not (user and user.is_authenticated):
        key = api_key_in(request.headers.get("Authorization", ""))
        token = api_token_check_once(request, key=key).token if key else None
    if user and user.is_authenticated:
        found = Caller(user.pk, token.pk if token and token.user_id == user.pk else None, client_ip(request))
    elif token is not None:
        found = Caller(token.user_id, token.pk, client_ip(request))
    else:
        found = Caller(None, None, client_ip(request))
    request._limits_caller = found
    return found


def per_person(group: str, request: HttpRequest) -> str:
    """The person (however they came: session or any of their keys), or the address when nobody is known."""
    caller = caller_of(request)
    return f"person:{caller.user_id}" if caller.user_id else f"ip:{caller.address}"


def per_key(group: str, request: HttpRequest) -> str:
    """The API key (whatever its spelling), or the person or address when there is none."""
    caller = caller_of(request)
    return f"key:{caller.token_id}" if caller.token_id else per_person(group, request)


def per_address(group: str, request: HttpRequest) -> str:
    return f"ip:{caller_of(request).address}"


@dataclass(frozen=True)
class Limit:
    """One limit: the setting that holds its rate, what it counts per, and the requests it counts (POSTs,
    which ask for work; GETs too where a page costs work to show). Its counter's group is its setting's
    name, shared by every view and endpoint that uses it."""

    setting: str
    per: Callable[[str, HttpRequest], str]
    methods: tuple[str, ...] = ("POST",)

    def counts(self, request: HttpRequest) -> bool:
        return request.method in self.methods

    def wait(self, request: HttpRequest) -> int | None:
        """Count this request; the seconds to wait when it is past the limit, else None (also when Redis is
        away)."""
        return first_wait(request, (self,))


RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/m"`` → (30, 60): the count allowed and the window's seconds; ``"100/5m"`` is 100 in 5 minutes."""
    match = RATE.match(rate or "")
    if match is None:
        raise ImproperlyConfigured(f"A rate limit reads like '30/m' (count/period: s, m, h or d), not {rate!r}.")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * UNIT_SECONDS[unit]


# KEYS: one counter per limit, in order; ARGV: per limit its allowed count, then its seconds to live.
# Returns the position (from 1) of the first limit past its count, 0 when none is: later ones are not counted.
COUNT_SCRIPT = """
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    if count == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
    if count > tonumber(ARGV[2 * i - 1]) then return i end
end
return 0
"""


@cache
def _counter(location: str, connect_timeout: float | None, timeout: float | None):
    """The counting script on the cache's Redis (``CACHES["default"]``): one client per process and address."""
    client = redis.Redis.from_url(location, socket_connect_timeout=connect_timeout, socket_timeout=timeout)
    return client.register_script(COUNT_SCRIPT)


def _window_end(who: str, period: int, now: int) -> int:
    """When the current window of ``who``'s count ends: windows of ``period`` seconds, shifted by a jitter
    that is stable for ``who``."""
    shift = zlib.crc32(who.encode()) % period
    return now - (now - shift) % period + period


def first_wait(request: HttpRequest, limits: tuple[Limit, ...]) -> int | None:
    """Count the request against each of ``limits`` that counts it, in order, in one trip to Redis; the wait
    of the first one past its rate, else None (also when Redis does not answer)."""
    counted = [limit for limit in limits if limit.counts(request)]
    if not counted:
        return None
    now, keys, args, ends = int(time.time()), [], [], []
    for limit in counted:
        allowed, period = parse_rate(getattr(settings, limit.setting))
        who = limit.per(limit.setting, request)
        end = _window_end(who, period, now)
        keys.append(f"limit:{limit.setting}:{allowed}/{period}s:{who}:{end}")
        args += [allowed, period + 1]
        ends.append(end)
    store = settings.CACHES["default"]
    options = store.get("OPTIONS", {})
    try:
        count = _counter(store["LOCATION"], options.get("socket_connect_timeout"), options.get("socket_timeout"))
        past = count(keys=keys, args=args)
    except RedisError as exc:
        logger.warning("rate limits not counted, Redis does not answer: %s", exc)
        return None
    return max(1, ends[past - 1] - now) if past else None


# The limits, each once. Classifications and CSV uploads share one budget per person, on every way in.
PERSON = Limit("RATE_LIMIT_PERSON", per_person)
API_KEY = Limit("RATE_LIMIT_API_KEY", per_key)
ADDRESS = Limit("RATE_LIMIT_IP", per_address)
# An explanation reads a review again up to 41 times: counted on its own, on the site's "why?" page (a GET)
# and with "explain" on either API, against one count per person.
EXPLAIN = Limit("RATE_LIMIT_EXPLAIN", per_person, methods=("GET", "POST"))
BATCH = Limit("RATE_LIMIT_API_BATCH", per_person)


def try_again(wait: int, *, what: str = "requests") -> str:
    """What a caller past a limit is told, on every way in."""
    return f"Too many {what}: try again in {wait} s."


def rate_limited(*limits: Limit):
    """A page's decorator: each of ``limits`` counts the requests it counts; past one, a page that says when
    to try again (the APIs answer in their own shape: ``sentiment.api_v1.throttle``)."""

    def decorator(view):
        @wraps(view)
        def limited_view(request: HttpRequest, *args, **kwargs):
            wait = first_wait(request, limits)
            if wait is not None:
                return too_many_requests(request, retry_after=wait)
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


def too_many_requests(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    message = try_again(retry_after)
    response = render(request, "sentiment/too_many_requests.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
