"""Settings, read from the environment with working defaults (SQLite, local Redis, ./var for files).

Every variable is listed in the README's "Settings" table. Nothing here writes to disk: the SQLite
database's folder is made when the app starts (``sentiment.apps``).
"""

import logging
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from ml.serving.choice import AUTO, DEFAULT_MAX_LOSS_POINTS, RUNTIMES
from webapp.logging_config import logging_dict


class Env(environ.Env):
    """django-environ's typed reads, with this project's rules for every variable, kept in one place.

    An empty value means the default, as if unset: a copied .env holds lines like ``VAR_DIR=``. A value
    is taken as written: django-environ would read ``$NAME`` as another variable's value, and a secret
    key may start with ``$``. List items are stripped, and empty ones dropped.
    """

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        value = self.ENVIRON.get(var, "")
        if value:
            return self.parse_value(value, cast)
        if default is self.NOTSET:
            raise ImproperlyConfigured(f"Set the {var} environment variable")
        return self.parse_value(default, cast) if parse_default else default

    def list(self, var, cast=None, default=environ.Env.NOTSET):
        items = (item.strip() for item in super().list(var, default=default))
        return [cast(item) if cast else item for item in items if item]


env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state (the default SQLite database, runs, uploads). A relative VAR_DIR is taken from the project
# folder, never from the working directory (the image's is /data).
VAR_DIR = BASE_DIR / env.str("VAR_DIR", default="var")

# Closed unless told otherwise: debug pages off, and no key anyone knows. Development on this machine says
# so with DEBUG=true (`make demo` does), which brings a development key; anything else sets SECRET_KEY, or
# the first thing that signs (a session, a form's CSRF token; the web server at start, webapp/wsgi.py)
# stops with "The SECRET_KEY setting must not be empty". Commands that sign nothing (train) run without.
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key: DEBUG is on" if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_structlog",  # the request id and the person in every line, and in the jobs a request queues
    "sentiment",  # before ninja: its templates/ninja/swagger.html puts the way back to the site on the API docs
    "ninja",  # API v1's interactive docs: Swagger UI served from its bundled files, not a CDN
]

# Figures for Prometheus (README, "Metrics"): /metrics, behind METRICS_TOKEN when it is set, and requests and
# latency by view and status (django-prometheus); METRICS_ENABLED=false leaves its three middlewares out.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Where each Celery worker serves its own figures ("host:port"; empty: nowhere), worker/metrics.py.
WORKER_METRICS_BIND = env.str("WORKER_METRICS_BIND", default="")
# django-prometheus' latency buckets, finer below 100 ms, where one answer lies (about 20 ms on 2 cores)
PROMETHEUS_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))
# /metrics ahead of the host check and the session: Prometheus scrapes each process by its address
# (sentiment/metrics/exposition.py); the request counters outside axes: a locked-out sign-in is counted
# with the status axes answers.
_metrics_outer = [
    "sentiment.metrics.exposition.MetricsEndpointMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
]
_metrics_inner = ["django_prometheus.middleware.PrometheusAfterMiddleware"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    *(_metrics_outer if METRICS_ENABLED else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "webapp.request_log.RequestLogMiddleware",  # after the person is known: their id is on every line
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    *(_metrics_inner if METRICS_ENABLED else []),
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out sign-in (see "Abuse" below)
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

# Connections are kept for a minute and checked before reuse: after the database restarts, the next
# request opens a new one instead of failing on the dead one.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    | {"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True},
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
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
STATIC_ROOT = VAR_DIR / env.str("STATIC_ROOT", default="static")

# --- machine learning ------------------------------------------------------------------------
# Where training runs write checkpoints, final models and metrics (one folder per run).
RUNS_DIR = VAR_DIR / env.str("RUNS_DIR", default="runs")
# A folder with IMDb's train/test files (parquet, CSV or JSON lines); when unset, 'imdb' means the hub.
IMDB_DATA_DIR = env.str("IMDB_DATA_DIR", default=None)
# The folders a run launched from the site or the API may read data or a base model from (symbolic links
# resolved; sentiment/files/data_roots.py); empty: IMDB_DATA_DIR, RUNS_DIR and MEDIA_ROOT.
DATA_ROOTS = env.list("DATA_ROOTS", default=[])

# Seconds between progress writes of a training run; a run whose heartbeat is older than the timeout
# lost its worker and is resumed; a cancel not honoured within the grace period ends the process.
TRAINING_PROGRESS_INTERVAL = env.float("TRAINING_PROGRESS_INTERVAL", default=2.0)
TRAINING_HEARTBEAT_TIMEOUT = env.float("TRAINING_HEARTBEAT_TIMEOUT", default=60.0)
TRAINING_CANCEL_GRACE = env.float("TRAINING_CANCEL_GRACE", default=4.0)
# A run interrupted this many times (its worker lost, or it could not start) fails with the last reason.
TRAINING_MAX_ATTEMPTS = env.int("TRAINING_MAX_ATTEMPTS", default=3)
# Rows of a CSV file classified before the file goes to the back of the queue (about 30 s on 2 CPU cores).
CSV_SLICE_ROWS = env.int("CSV_SLICE_ROWS", default=2048)
# A CSV job whose heartbeat (a progress write, every few seconds while it is classified) is older than
# this lost its worker and is handed back; after CSV_MAX_ATTEMPTS such losses it fails.
CSV_HEARTBEAT_TIMEOUT = env.float("CSV_HEARTBEAT_TIMEOUT", default=60.0)
CSV_MAX_ATTEMPTS = env.int("CSV_MAX_ATTEMPTS", default=3)
# Seconds between two sweeps (services.jobs_sweep). A queued job whose message could not be sent (the
# broker was away) is sent again by the next sweep; one sent longer ago than JOB_RESEND_AFTER seconds
# and still waiting is sent again too, in case the broker lost it.
SWEEP_INTERVAL = env.float("SWEEP_INTERVAL", default=60.0)
JOB_RESEND_AFTER = env.float("JOB_RESEND_AFTER", default=1800.0)
# Processes per training run: 1 trains in one process; N > 1 starts torchrun with N data-parallel
# processes (one per GPU of the worker; on CPUs they talk through gloo).
TRAINING_PROCESSES = env.int("TRAINING_PROCESSES", default=1)

# Limits on what people send: one review, and CSV uploads.
MAX_REVIEW_CHARS = env.int("MAX_REVIEW_CHARS", default=20000)
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=10 * 2**20)
MAX_CSV_ROWS = env.int("MAX_CSV_ROWS", default=50000)
# Reviews one person may have waiting in CSV files not yet classified (a fair share of the worker).
MAX_QUEUED_CSV_ROWS = env.int("MAX_QUEUED_CSV_ROWS", default=200000)
# A CSV's header may have this many columns, and one row (quoted line breaks included) this many characters.
MAX_CSV_COLUMNS = env.int("MAX_CSV_COLUMNS", default=100)
MAX_CSV_LINE_CHARS = env.int("MAX_CSV_LINE_CHARS", default=50000)
# Reviews in one uploaded labelled data set (CSV or JSON lines), counted before duplicates are dropped.
MAX_DATASET_ROWS = env.int("MAX_DATASET_ROWS", default=100_000)
# Bytes one person's files may take (CSV uploads and results, uploaded data sets: services/storage.py);
# CSV jobs are deleted with their files RETENTION_DAYS after they ended, and the texts of predictions
# older than PREDICTION_TEXT_RETENTION_DAYS are emptied (those with feedback are kept), by the sweep.
MAX_STORED_BYTES_PER_PERSON = env.int("MAX_STORED_BYTES_PER_PERSON", default=250 * 2**20)
RETENTION_DAYS = env.int("RETENTION_DAYS", default=30)
PREDICTION_TEXT_RETENTION_DAYS = env.int("PREDICTION_TEXT_RETENTION_DAYS", default=180)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES + 2**20
# Which runtime answers (ml.serving.choice): "auto" serves the one the serving check made after training
# measured to answer fastest while losing at most INT8_MAX_ACCURACY_LOSS points of accuracy against
# PyTorch; "pytorch", "onnx-fp32", "onnx-int8" force one ("pytorch-int8": PyTorch's deprecated
# quantization, only when asked for).
SERVE_RUNTIME = env.str("SERVE_RUNTIME", default=AUTO).lower()
if SERVE_RUNTIME not in {AUTO, *RUNTIMES}:
    raise ImproperlyConfigured(f"SERVE_RUNTIME must be one of auto, {', '.join(RUNTIMES)} (got {SERVE_RUNTIME!r})")
INT8_MAX_ACCURACY_LOSS = env.float("INT8_MAX_ACCURACY_LOSS", default=DEFAULT_MAX_LOSS_POINTS)
# Before a model is promoted, the last REPLAY_PREDICTIONS reviews people classified are scored again by it
# (sentiment/selectors/evidence.py), for at most REPLAY_SECONDS: the promote page shows which answers would change.
REPLAY_PREDICTIONS = env.int("REPLAY_PREDICTIONS", default=1000)
REPLAY_SECONDS = env.float("REPLAY_SECONDS", default=30.0)
# Heavy reading (explanations, the promote page's evidence, behavioural checks) is done by the default
# workers as jobs (services/analysis.py): at most ANALYSIS_JOBS_PER_PERSON under way per person and
# ANALYSIS_QUEUE_MAX waiting in all (past either: 429); a job whose worker is silent for
# ANALYSIS_HEARTBEAT_TIMEOUT seconds is handed back, ANALYSIS_MAX_ATTEMPTS times at most; results are
# kept ANALYSIS_KEEP_HOURS after the job ended.
ANALYSIS_JOBS_PER_PERSON = env.int("ANALYSIS_JOBS_PER_PERSON", default=3)
ANALYSIS_QUEUE_MAX = env.int("ANALYSIS_QUEUE_MAX", default=50)
ANALYSIS_HEARTBEAT_TIMEOUT = env.float("ANALYSIS_HEARTBEAT_TIMEOUT", default=60.0)
ANALYSIS_MAX_ATTEMPTS = env.int("ANALYSIS_MAX_ATTEMPTS", default=3)
ANALYSIS_KEEP_HOURS = env.int("ANALYSIS_KEEP_HOURS", default=24)

MEDIA_ROOT = VAR_DIR / env.str("MEDIA_ROOT", default="media")
MEDIA_URL = "media/"

# --- Celery (worker/) ------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = False

# --- logs and traces (README, "Logs and traces") ----------------------------------------------
# Logs go to standard error, in development and production alike (Docker collects both streams): standard
# output is the commands' own. "plain": lines for people (commands, `make demo`); "json": one JSON object a
# line, for a log collector (the compose stack, the production settings). webapp/logging_config.py.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
LOGGING_CONFIG = "webapp.logging_config.logging_configure"
LOGGING = logging_dict(output=LOG_FORMAT, level=LOG_LEVEL)
# django-structlog (webapp/request_log.py): a request's ids travel in the headers of the jobs it queues, and
# each request is one line, when it is answered.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
# Traces (OpenTelemetry, webapp/tracing.py), off unless the standard variables ask for them: an OTLP endpoint
# (http/protobuf), or OTEL_TRACES_EXPORTER (otlp, console; none is off); OTEL_SDK_DISABLED=true turns them
# off. The SDK reads the others itself (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS...).
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
_ENDPOINT_SET = bool(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
TRACES_EXPORTER = env.str("OTEL_TRACES_EXPORTER", default="otlp" if _ENDPOINT_SET else "none").lower()
if env.bool("OTEL_SDK_DISABLED", default=False):
    TRACES_EXPORTER = "none"
if TRACES_EXPORTER not in {"otlp", "console", "none"}:
    raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER must be otlp, console or none (got {TRACES_EXPORTER!r})")

# Mail (Django's SMTP settings): only with EMAIL_HOST set can people reset a forgotten password by email.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

# --- abuse: passwords, failed sign-ins, rate limits (README, "Limits on abuse") ----------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",  # 8 characters
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# Failed sign-ins (django-axes): after AXES_FAILURE_LIMIT failures for one username from one address,
# that pair is refused (429) for AXES_COOLOFF_MINUTES; other people and addresses are not affected.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "sentiment.limits.client_ip"
# Only behind a proxy that sets X-Forwarded-For itself (the compose stack's Caddy) may it be trusted.
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)
# Rate limits ("count/period", period s, m, h or d), counted in Redis (CACHE_URL) across every process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default="redis://127.0.0.1:6379/1"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},  # Redis away: fail fast, open
    }
}
# Per caller, never per header spelling (sentiment/limits.py): one budget per person for classifications
# and CSV uploads, on the site and through every key they hold; each key below it; each address.
RATE_LIMIT_PERSON = env.str("RATE_LIMIT_PERSON", default="60/m")  # classifications and uploads per person
RATE_LIMIT_API_KEY = env.str("RATE_LIMIT_API_KEY", default="60/m")  # classifications per API key
RATE_LIMIT_IP = env.str("RATE_LIMIT_IP", default="120/m")  # API requests per address, whoever sends them
RATE_LIMIT_EXPLAIN = env.str("RATE_LIMIT_EXPLAIN", default="10/m")  # explanations per person
RATE_LIMIT_API_BATCH = env.str("RATE_LIMIT_API_BATCH", default="10/m")  # API v1 batches per person
API_BATCH_MAX = env.int("API_BATCH_MAX", default=64)  # reviews in one API v1 batch
MAX_API_KEYS_PER_PERSON = env.int("MAX_API_KEYS_PER_PERSON", default=10)  # usable (not revoked, not expired)
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)  # how long an Idempotency-Key is remembered
