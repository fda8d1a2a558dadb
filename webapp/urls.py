from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from sentiment.api_v1.site import api as api_v1
from webapp.health import healthz

# 403, 404 and 500 are Django's own handlers, drawn by the site's 403.html, 404.html and 500.html templates.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the Django admin's, the JSON API's).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("sentiment/favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_v1.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("sentiment.urls")),
]
