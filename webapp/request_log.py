"""One log line per request, and the request's ids on every line logged while it is answered.

django-structlog's middleware gives each request a fresh ``request_id`` (a client's X-Request-ID is not
trusted), binds it with the signed-in person's ``user_id`` and the client's ``ip`` for every line logged
meanwhile, hands them to the jobs the request queues (in the Celery message's headers, worker/celery.py), and
logs ``request_finished`` (or ``request_failed``, with the traceback) when the answer leaves. Here that line
is given the fields people search by: ``method``, ``path`` (without the query string, which may hold what
people typed), ``view`` (the URL's name), ``status`` and ``duration_ms``. ``request_started`` is logged at
DEBUG only (settings.DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL): one line per request at INFO.
"""

from __future__ import annotations

import time

import structlog
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django_structlog import signals
from django_structlog.middlewares import RequestMiddleware

from sentiment.limits import client_ip


class RequestLogMiddleware(RequestMiddleware):
    """django-structlog's middleware, with the clock started first and the address the limits count."""

    def prepare(self, request: HttpRequest) -> None:
        request.log_started = time.perf_counter()
        super().prepare(request)

    @classmethod
    def bind_ip(cls, request: HttpRequest) -> None:
        # X-Forwarded-For only where a proxy of ours sets it (TRUST_X_FORWARDED_FOR), as for the limits
        structlog.contextvars.bind_contextvars(ip=client_ip(request))


def _request_fields(request: HttpRequest, log_kwargs: dict, status: int) -> None:
    match = getattr(request, "resolver_match", None)
    log_kwargs.pop("request", None)
    log_kwargs.pop("code", None)
    log_kwargs.update(
        method=request.method,
        path=request.path,
        view=match.view_name if match else None,
        status=status,
        duration_ms=round((time.perf_counter() - request.log_started) * 1000, 1),
    )
    token = getattr(request, "api_token", None)  # API v1 knows its caller from the key, not from a session
    if token is not None and structlog.contextvars.get_contextvars().get("user_id") is None:
        structlog.contextvars.bind_contextvars(user_id=token.user_id)


@receiver(signals.bind_extra_request_finished_metadata)
def _finished(sender, request: HttpRequest, response: HttpResponse, log_kwargs: dict, **kwargs) -> None:
    _request_fields(request, log_kwargs, response.status_code)


@receiver(signals.bind_extra_request_failed_metadata)
def _failed(sender, request: HttpRequest, log_kwargs: dict, **kwargs) -> None:
    _request_fields(request, log_kwargs, 500)
