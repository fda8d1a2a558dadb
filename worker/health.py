"""The workers' container health check: ``python -m worker.health`` exits 0 when healthy.

A worker that cannot reach its broker takes no task, and one that cannot reach the database cannot
claim a run or write progress: either way it is unhealthy, and ``docker compose up --wait`` or ``ps``
says so. The check runs in its own process (a solo-pool worker busy training answers no remote
``ping``), with the worker's own settings.
"""

from __future__ import annotations

import sys

TIMEOUT_SECONDS = 5


def main() -> int:
    import django

    from worker.celery import app  # first: it names the settings module when the environment does not

    django.setup()
    from django.db import connection

    problems = []
    broker = app.connection_for_write()
    try:
        broker.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to connect is the answer
        problems.append(f"broker {broker.as_uri()}: {type(exc).__name__}: {exc}")
    finally:
        broker.release()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}: {exc}")
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
