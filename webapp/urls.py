from django.contrib import admin
from django.urls import include, path

from sentiment.api_v1.site import api as api_v1
from webapp.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_v1.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("sentiment.urls")),
]
