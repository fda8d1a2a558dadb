"""/healthz fails when pages would fail: each cause made real (a missing manifest, a missing template)."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_a_working_site_is_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"healthy": True, "checks": {"database": "ok", "templates": "ok", "static": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_static_files_missing_from_the_manifest_make_it_unhealthy(client, tmp_path):
    manifest = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, "staticfiles": manifest}
    with override_settings(STORAGES=storages, STATIC_ROOT=tmp_path, DEBUG=False):  # collectstatic never ran
        response = client.get("/healthz")
    assert response.status_code == 503
    # the sign-in page links the style sheet, so it cannot render either
    checks = {"database": "ok", "templates": "failed: ValueError", "static": "failed: ValueError"}
    assert response.json() == {"healthy": False, "checks": checks}


def test_pages_that_cannot_render_make_it_unhealthy(client, settings):
    broken = [{**settings.TEMPLATES[0], "APP_DIRS": False}]  # no template can be found
    with override_settings(TEMPLATES=broken):
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["checks"]["templates"] == "failed: TemplateDoesNotExist"


def test_a_flood_of_probes_costs_one_check_every_two_seconds_and_few_migration_reads(client, monkeypatch):
    from sentiment.selectors.health import database_migrations_pending
    from webapp import health

    now, reads, renders = [1000.0], [], []
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    pending = database_migrations_pending
    monkeypatch.setattr(health, "database_migrations_pending", lambda: reads.append(1) or pending())
    templates = health.CHECKS["templates"]
    monkeypatch.setitem(health.CHECKS, "templates", lambda request: renders.append(1) or templates(request))
    assert {client.get("/healthz").status_code for _ in range(300)} == {200}
    assert (len(reads), len(renders)) == (1, 1)
    now[0] += health.HEALTH_CACHE_SECONDS
    assert client.get("/healthz").status_code == 200 and (len(reads), len(renders)) == (1, 2)
    now[0] += health.MIGRATIONS_RECHECK_SECONDS
    assert client.get("/healthz").status_code == 200 and (len(reads), len(renders)) == (2, 3)
