"""Settings for the test suite (pytest's ``DJANGO_SETTINGS_MODULE``): the defaults, with the SQLite test
database in a file. Tests that cross processes (a real Celery worker, its training child) open it by
its path, which an in-memory database does not have; the processes they start inherit this module."""

import os
import tempfile

# Set before the defaults are read: they have no key (see webapp/settings.py). The processes the tests
# start (workers, servers) inherit it.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)

from webapp.settings import *  # noqa: F403
from webapp.settings import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES = {"default": {**DATABASES["default"], "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")}}}

# The tests' models and data live in pytest's temporary folders: runs launched through the form may read them.
DATA_ROOTS = [root for root in (IMDB_DATA_DIR, RUNS_DIR, MEDIA_ROOT, tempfile.gettempdir()) if root]  # noqa: F405
