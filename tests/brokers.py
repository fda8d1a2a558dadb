"""Pointing this test process's Celery app at another broker (one that is down, or a Redis of a test's own)."""

from __future__ import annotations

import contextlib
import os
import socket

from django.conf import settings

from worker.celery import app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _switch(url: str) -> None:
    # Celery reads CELERY_BROKER_URL from the environment before its own setting
    os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = app.conf.broker_url = url
    app._after_fork()  # takes the connection pool of the new URL from kombu's pools, as a forked child does


@contextlib.contextmanager
def broker_used(url: str):
    """Within the block, this process sends its jobs to ``url``."""
    before = app.conf.broker_url
    _switch(url)
    try:
        yield url
    finally:
        _switch(before)


def broker_away():
    """Within the block, sending a job finds no broker (a port nothing listens on), as when Redis is down."""
    return broker_used(f"redis://127.0.0.1:{free_port()}/0")
