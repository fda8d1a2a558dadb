"""Settings, read from the environment with working defaults (SQLite, local Redis, ./var for files).

Every variable is listed in the README's "Settings" table.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state (the default SQLite database, runs, uploads). A relative VAR_DIR is taken from the project
# folder, never from the working directory; nothing is written here at import (the image's is /data).
# Empty values (a copied .env) mean the defaults.
VAR_DIR = BASE_DIR / (os.environ.get("VAR_DIR") or "var")


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "sentiment",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "webapp.wsgi.application"

# An empty DATABASE_URL (as in a copied .env.example) means the default too. Connections are kept for a
# minute and checked before reuse: after the database restarts, the next request opens a new one
# instead of failing on the dead one.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    ),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Tests that cross processes (a real Celery worker) need the test database in a file, not in memory.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,  # the web, the worker and training write concurrently
        # write-ahead log: readers never wait for a writer, and a commit needs no full disk sync
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sentiment:classify"
LOGOUT_REDIRECT_URL = "login"
STATIC_ROOT = VAR_DIR / (os.environ.get("STATIC_ROOT") or "static")

# --- machine learning ------------------------------------------------------------------------
# Where training runs write checkpoints, final models and metrics (one folder per run).
RUNS_DIR = VAR_DIR / (os.environ.get("RUNS_DIR") or "runs")
# A folder with IMDb's train/test files (parquet, CSV or JSON lines); when unset, 'imdb' means the hub.
IMDB_DATA_DIR = os.environ.get("IMDB_DATA_DIR") or None

# Seconds between progress writes of a training run; a run whose heartbeat is older than the timeout
# lost its worker and is resumed; a cancel not honoured within the grace period ends the process.
TRAINING_PROGRESS_INTERVAL = float(os.environ.get("TRAINING_PROGRESS_INTERVAL", "2"))
TRAINING_HEARTBEAT_TIMEOUT = float(os.environ.get("TRAINING_HEARTBEAT_TIMEOUT", "60"))
TRAINING_CANCEL_GRACE = float(os.environ.get("TRAINING_CANCEL_GRACE", "4"))
# Processes per training run: 1 trains in one process; N > 1 starts torchrun with N data-parallel
# processes (one per GPU of the worker; on CPUs they talk through gloo).
TRAINING_PROCESSES = int(os.environ.get("TRAINING_PROCESSES", "1"))

# Limits on what people send: one review, and CSV uploads.
MAX_REVIEW_CHARS = int(os.environ.get("MAX_REVIEW_CHARS", "20000"))
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(10 * 2**20)))
MAX_CSV_ROWS = int(os.environ.get("MAX_CSV_ROWS", "50000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES + 2**20
# Serve with dynamic int8 quantization (faster on a CPU)? "auto": where the check made after training
# measured a loss of at most INT8_MAX_ACCURACY_LOSS points of accuracy and a real speed-up; "on"/"off".
_INT8 = os.environ.get("SERVE_INT8", "auto").lower()
SERVE_INT8 = {"1": "on", "true": "on", "yes": "on", "0": "off", "false": "off", "no": "off"}.get(_INT8, _INT8)
if SERVE_INT8 not in {"auto", "on", "off"}:
    raise ImproperlyConfigured(f"SERVE_INT8 must be auto, on or off (got {_INT8!r})")
INT8_MAX_ACCURACY_LOSS = float(os.environ.get("INT8_MAX_ACCURACY_LOSS", "0.5"))

MEDIA_ROOT = VAR_DIR / (os.environ.get("MEDIA_ROOT") or "media")
MEDIA_URL = "media/"

# --- Celery (worker/) ------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
