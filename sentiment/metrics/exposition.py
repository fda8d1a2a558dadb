"""Serving the figures to Prometheus: ``/metrics`` of the web side and each worker's own metrics port,
behind one rule (``metrics_refusal``): with ``METRICS_TOKEN`` set, a scrape must send
``Authorization: Bearer <token>``.

``/metrics`` is answered by a middleware ahead of the site's own (``MetricsEndpointMiddleware``), not by a
URL: Prometheus scrapes each web process by its address inside the stack's network (every replica, found
through the network's DNS), in plain HTTP, so the request names no host of ``ALLOWED_HOSTS`` and would be
redirected to HTTPS in production. Nothing in the answer depends on the host or the scheme, the token
guards it, and the proxy does not pass ``/metrics`` from outside (``webapp/Caddyfile``). Answered there,
scrapes are not counted as the site's traffic either.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from sentiment.metrics.folder import VARIABLE
from sentiment.metrics.scrape import ScrapeCollector

logger = logging.getLogger(__name__)
METRICS_PATH = "/metrics"
_registries: dict[bool, CollectorRegistry] = {}


def metrics_refusal(authorization: str | None) -> tuple[int, str] | None:
    """None when a scrape with this ``Authorization`` header may read the figures; else the status and why:
    401 without a bearer token, 403 with a wrong one. Without ``METRICS_TOKEN`` every scrape may."""
    token = settings.METRICS_TOKEN
    if not token:
        return None
    scheme, _, given = (authorization or "").strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return 401, "The metrics need a token: send Authorization: Bearer <METRICS_TOKEN>.\n"
    if not hmac.compare_digest(given.encode(), token.encode()):
        return 403, "That token does not open the metrics.\n"
    return None


class _ThisProcess:
    """The default registry's collectors (this process's figures) inside a registry of one scrape's own."""

    def collect(self):
        return REGISTRY.collect()


def metrics_registry(*, deployment: bool) -> CollectorRegistry:
    """What a scrape reports: every process's figures from the multiprocess folder (or, in a lone process
    such as ``runserver``, this process's), plus, with ``deployment``, what ``ScrapeCollector`` reads of
    the whole deployment (the web side only)."""
    if deployment not in _registries:
        registry = CollectorRegistry()
        if os.environ.get(VARIABLE):
            MultiProcessCollector(registry)
        else:
            registry.register(_ThisProcess())
        if deployment:
            registry.register(ScrapeCollector())
        _registries[deployment] = registry
    return _registries[deployment]


def metrics_text(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The figures in the format the scraper asks for (Prometheus' text format, or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


class MetricsEndpointMiddleware:
    """Answers ``/metrics`` with the web side's figures (see the module's docstring for why here)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != METRICS_PATH:
            return self.get_response(request)
        refused = metrics_refusal(request.headers.get("Authorization"))
        if refused is not None:
            status, reason = refused
            response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse("Use GET.\n", status=405, content_type="text/plain; charset=utf-8")
            response["Allow"] = "GET, HEAD"
            return response
        body, content_type = metrics_text(metrics_registry(deployment=True), request.headers.get("Accept"))
        return HttpResponse(body, content_type=content_type)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        """Scrapes are not logged (one every 15 seconds)."""


def metrics_wsgi_app(registry: CollectorRegistry):
    """A WSGI application answering every GET with ``registry``'s figures, behind ``metrics_refusal``."""

    def app(environ, start_response):
        refused = metrics_refusal(environ.get("HTTP_AUTHORIZATION"))
        if refused is not None:
            status, reason = refused
            phrase = "Unauthorized" if status == 401 else "Forbidden"
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("WWW-Authenticate", 'Bearer realm="metrics"')]
            start_response(f"{status} {phrase}", headers)
            return [reason.encode()]
        body, content_type = metrics_text(registry, environ.get("HTTP_ACCEPT"))
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    return app


def metrics_server_start(bind: str) -> WSGIServer:
    """Serve this server's processes' figures on ``bind`` ("host:port") from a thread of this process (a
    Celery worker's main process): Prometheus scrapes each worker there."""
    host, _, port = bind.rpartition(":")
    server = make_server(
        host,  # 0.0.0.0 in the stack: its workers are reached inside its network only
        int(port),
        metrics_wsgi_app(metrics_registry(deployment=False)),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    logger.info("serving this worker's metrics on %s", bind)
    return server
