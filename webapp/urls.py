from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from sentiment.api_v1.site import api as api_v1
from webapp.health import healthz

# Signing in and out and changing one's password; resetting a forgotten one sends an email, so those pages
# exist only where the site can send mail (EMAIL_HOST): elsewhere a reset link would promise what never comes.
accounts = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
if settings.EMAIL_HOST:
    accounts += [
        path("password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
        path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
        path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
        path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    ]

# 403, 404 and 500 are Django's own handlers, drawn by the site's 403.html, 404.html and 500.html templates.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the Django admin's, the JSON API's).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("sentiment/favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_v1.urls),
    path("accounts/", include(accounts)),
    path("", include("sentiment.urls")),
]
