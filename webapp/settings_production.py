"""Production settings: the defaults of ``webapp.settings`` made safe for the internet.

Use with ``DJANGO_SETTINGS_MODULE=webapp.settings_production``. It refuses to start without a
``SECRET_KEY``. TLS ends at the proxy in front (the compose stack's Caddy), which alone sets
``X-Forwarded-Proto``; behind it cookies are secure and HSTS is sent (subdomains and preload are
opt-in). Static files are served by the web process itself (WhiteNoise). Logs are JSON lines unless
``LOG_FORMAT`` says otherwise.
``manage.py check --deploy`` reports nothing with these settings.
"""

from django.core.exceptions import ImproperlyConfigured

from webapp.logging_config import logging_dict
from webapp.settings import *  # noqa: F403
from webapp.settings import LOG_LEVEL, MIDDLEWARE, env

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of at least 50 characters, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# TLS ends at the proxy in front of us; trust its header, redirect plain HTTP, send HSTS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The client's address for limits comes from X-Forwarded-For only where a proxy in front sets it (the
# compose stack sets this); gunicorn published directly would otherwise believe whatever a client sends.
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# the container health check and Prometheus ask gunicorn directly, in plain HTTP
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
# Both bind every subdomain, and preloading cannot be undone quickly: they are the operator's choice.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [
    check
    for check, opted_in in (("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS), ("security.W021", SECURE_HSTS_PRELOAD))
    if not opted_in
]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# One JSON object a line, for whatever collects the logs (README, "Logs and traces").
LOG_FORMAT = env.str("LOG_FORMAT", default="json").lower()
LOGGING = logging_dict(output=LOG_FORMAT, level=LOG_LEVEL)

# Static files from the web process, compressed and with far-future cache headers.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
