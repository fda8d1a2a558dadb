"""The WSGI entry point (gunicorn). It refuses to start without a ``SECRET_KEY`` (see webapp/settings.py):
every page would otherwise fail at its first signature."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
application = get_wsgi_application()
settings.SECRET_KEY  # noqa: B018  (read at start: an empty one raises ImproperlyConfigured now, not per request)
