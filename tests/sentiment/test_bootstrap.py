"""``manage.py bootstrap``: the first administrator and the first model of a new deployment."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings

from sentiment.models import Promotion, TrainingRun

pytestmark = pytest.mark.django_db


def signs_in(username: str, password: str):
    """The user, when these credentials sign in as on the sign-in page (the failed-sign-in limit needs the request)."""
    return authenticate(RequestFactory().post("/accounts/login/"), username=username, password=password)


def bootstrap(monkeypatch, capsys, **env: str) -> str:
    for name in ("ADMIN_USERNAME", "ADMIN_PASSWORD", "ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    call_command("bootstrap", "--no-wait")
    return capsys.readouterr().out


def test_it_creates_the_administrator_and_queues_the_first_model_once(monkeypatch, capsys):
    out = bootstrap(monkeypatch, capsys, ADMIN_USERNAME="boss", ADMIN_PASSWORD="a long pass phrase 42")
    assert "Created the administrator 'boss' with the password from ADMIN_PASSWORD" in out
    user = signs_in(username="boss", password="a long pass phrase 42")
    assert user and user.is_staff and user.is_superuser
    run = TrainingRun.objects.get()
    assert run.preset == "smoke" and run.promote_when_done and run.status == TrainingRun.Status.QUEUED
    assert run.config["base_model"] == "minilm" and run.config["dataset"] == "demo"  # offline
    assert f"{run} (the offline smoke recipe)" in out

    again = bootstrap(monkeypatch, capsys, ADMIN_USERNAME="boss", ADMIN_PASSWORD="another password 43")
    assert "exists; its password is unchanged" in again and f"{run} " in again
    assert TrainingRun.objects.count() == 1 and signs_in(username="boss", password="a long pass phrase 42")


def test_without_a_password_it_generates_one_and_shows_it_once(monkeypatch, capsys):
    out = bootstrap(monkeypatch, capsys)
    password = out.split("with the password ")[1].split()[0]
    assert signs_in(username="admin", password=password)
    assert password not in bootstrap(monkeypatch, capsys)


def test_with_a_model_served_it_launches_nothing(monkeypatch, capsys, served_run):
    out = bootstrap(monkeypatch, capsys, ADMIN_PASSWORD="a long pass phrase 42")
    assert "A model is served" in out and TrainingRun.objects.count() == 1 and Promotion.objects.count() == 1


def test_a_password_the_site_would_refuse_is_refused_with_the_reason(monkeypatch, capsys):
    rule = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
    with override_settings(AUTH_PASSWORD_VALIDATORS=rule), pytest.raises(CommandError, match="too short"):
        bootstrap(monkeypatch, capsys, ADMIN_PASSWORD="abc")
    assert not get_user_model().objects.exists() and not TrainingRun.objects.exists()


def test_an_existing_account_that_is_not_staff_is_refused_with_the_reason(monkeypatch, capsys, person):
    with pytest.raises(CommandError, match="'person' exists but is not active staff"):
        bootstrap(monkeypatch, capsys, ADMIN_USERNAME="person")
    assert not TrainingRun.objects.exists()
