"""The WSGI entry point (gunicorn). It refuses to start without a ``SECRET_KEY`` (see webapp/settings.py):
every page would otherwise fail at its first signature. Traces start here when the OTEL_* variables ask for
them (webapp/tracing.py), before Django builds its middleware."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from webapp.tracing import tracing_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
tracing_start(service="web")
application = get_wsgi_application()
settings.SECRET_KEY  # noqa: B018  (read at start: an empty one raises ImproperlyConfigured now, not per request)
