"""``/healthz``: healthy only when pages would work.

A health check that answers "ok" while every page fails is worse than none: the container stays
"healthy" and nothing restarts or alerts. So each probe does, cheaply, what a page needs: the database
answers and its schema is migrated, the sign-in page renders (templates, URLs, context processors), and
the static files it links are in the manifest that production serves them from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from sentiment import selectors

logger = logging.getLogger(__name__)
# What the pages link: the site's style sheet and the admin's.
STATIC_NAMES = ("sentiment/style.css", "sentiment/run.js", "admin/css/base.css")


def _database(request: HttpRequest) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if selectors.database_migrations_pending():
        raise RuntimeError("migrations not applied")


def _templates(request: HttpRequest) -> None:
    render_to_string("registration/login.html", {"form": AuthenticationForm()}, request=request)


def _static(request: HttpRequest) -> None:
    for name in STATIC_NAMES:
        staticfiles_storage.url(name)  # the manifest storage raises ValueError for a missing entry


CHECKS: dict[str, Callable[[HttpRequest], None]] = {"database": _database, "templates": _templates, "static": _static}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every check "ok", or 503 naming what failed (details go to the log, not to the client)."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check(request)
            results[name] = "ok"
        except Exception as exc:  # a health check reports every failure, whatever its kind
            logger.exception("health check %s failed", name)
            results[name] = f"failed: {type(exc).__name__}"
    healthy = all(result == "ok" for result in results.values())
    return JsonResponse({"healthy": healthy, "checks": results}, status=200 if healthy else 503)
