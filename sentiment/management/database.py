"""The database a headless command needs, checked before it starts: a fresh clone has none yet.

Without this check ``manage.py train`` on a fresh clone loads the reviews and the model and then ends in
a traceback ("no such table"); instead it says, in one line, what to run.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DatabaseError

from ml.errors import first_line
from sentiment.selectors.health import database_migrations_pending


def database_ready() -> None:
    """Raise a one-line ``CommandError`` naming what to do when the database is unreachable or not set up."""
    try:
        pending = database_migrations_pending()
    except DatabaseError as exc:
        raise CommandError(f"cannot reach the database (DATABASE_URL): {first_line(exc)}") from None
    if pending:
        raise CommandError("the database is not set up yet: run `python manage.py migrate` first")
