"""``/healthz``: healthy only when pages would work.

A health check that answers "ok" while every page fails is worse than none: the container stays
"healthy" and nothing restarts or alerts. So each probe does, cheaply, what a page needs: the database
answers and its schema is migrated, the sign-in page renders (templates, URLs, context processors), and
the static files it links are in the manifest that production serves them from.

It is public and cheap under a flood: each process answers from its last result for
``HEALTH_CACHE_SECONDS`` (2 s), so a thousand probes a second cost one check a process every two
seconds; and the migration graph, slow to build, is read again only every ``MIGRATIONS_RECHECK_SECONDS``
once the schema was found up to date (new migrations come with new code, that is, new processes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from sentiment.selectors.health import database_migrations_pending

logger = logging.getLogger(__name__)
# What the pages link: the site's style sheet and the admin's.
STATIC_NAMES = ("sentiment/style.css", "sentiment/run.js", "admin/css/base.css")
HEALTH_CACHE_SECONDS = 2.0
MIGRATIONS_RECHECK_SECONDS = 300.0
_last: dict = {"at": None, "answer": None, "migrated_at": None}
_lock = threading.Lock()


def _database(request: HttpRequest) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    now = time.monotonic()
    if _last["migrated_at"] is not None and now - _last["migrated_at"] < MIGRATIONS_RECHECK_SECONDS:
        return
    if database_migrations_pending():
        _last["migrated_at"] = None
        raise RuntimeError("migrations not applied")
    _last["migrated_at"] = now


def _templates(request: HttpRequest) -> None:
    render_to_string("registration/login.html", {"form": AuthenticationForm()}, request=request)


def _static(request: HttpRequest) -> None:
    for name in STATIC_NAMES:
        staticfiles_storage.url(name)  # the manifest storage raises ValueError for a missing entry


CHECKS: dict[str, Callable[[HttpRequest], None]] = {"database": _database, "templates": _templates, "static": _static}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every check "ok", or 503 naming what failed (details go to the log, not to the client)."""
    with _lock:  # one request of a process checks; the others meanwhile wait for its answer
        if _last["at"] is None or time.monotonic() - _last["at"] >= HEALTH_CACHE_SECONDS:
            _last["answer"], _last["at"] = _checked(request), time.monotonic()
        healthy, results = _last["answer"]
    return JsonResponse({"healthy": healthy, "checks": results}, status=200 if healthy else 503)


def _checked(request: HttpRequest) -> tuple[bool, dict]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check(request)
            results[name] = "ok"
        except Exception as exc:  # a health check reports every failure, whatever its kind
            logger.exception("health check %s failed", name)
            results[name] = f"failed: {type(exc).__name__}"
    return all(result == "ok" for result in results.values()), results


def health_forget() -> None:
    """Check afresh on the next probe (the tests change what the checks see)."""
    _last.update(at=None, answer=None, migrated_at=None)
