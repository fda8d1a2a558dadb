"""API keys through their owner's page: made and shown once (post/redirect/get, never cached), listed,
revoked, expired; each refused key gets a 401 that says why."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sentiment.models import ApiToken
from sentiment.services.api_tokens import api_token_create
from tests.sentiment.test_api import call

pytestmark = pytest.mark.django_db


def test_a_new_key_is_shown_once_after_a_redirect_and_never_cached(client, person, served_run):
    client.force_login(person)
    created = client.post(reverse("sentiment:api_keys"), {"name": "my script", "expires_in_days": ""})
    assert created.status_code == 302 and created.url == reverse("sentiment:api_keys")  # a refresh re-posts nothing
    shown = client.get(created.url)
    key = shown.context["new_key"]
    assert key.startswith("rs_") and key in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert call(client, {"text": "a superb film"}, key).status_code == 200

    again = client.get(reverse("sentiment:api_keys")).content.decode()
    assert key not in again and "my script" in again and f"{key[:8]}…" in again  # listed by its prefix only


def test_the_list_says_when_each_key_was_made_and_last_used(client, person, served_run):
    key = api_token_create(user=person, name="nightly", expires_in_days=30)
    client.force_login(person)
    assert "never" in client.get(reverse("sentiment:api_keys")).content.decode()  # not used yet
    call(client, {"text": "a superb film"}, key)
    token = ApiToken.objects.get()
    assert token.last_used_at and token.expires_at.date() == (timezone.now() + timedelta(days=30)).date()
    page = client.get(reverse("sentiment:api_keys")).content.decode()
    assert f"{token.last_used_at:%Y-%m-%d %H:%M}" in page and f"{token.expires_at:%Y-%m-%d}" in page


def test_a_busy_key_records_its_last_use_once_a_minute(client, person, served_run):
    key = api_token_create(user=person)
    call(client, {"text": "a superb film"}, key)
    first = ApiToken.objects.get().last_used_at
    call(client, {"text": "a superb film"}, key)
    assert ApiToken.objects.get().last_used_at == first  # no write within the minute
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    call(client, {"text": "a superb film"}, key)
    assert ApiToken.objects.get().last_used_at > first  # a minute on, the use is recorded again


def test_a_revoked_key_is_refused_with_the_reason(client, person, served_run):
    key = api_token_create(user=person)
    token = ApiToken.objects.get()
    client.force_login(person)
    response = client.post(reverse("sentiment:api_key_revoke", args=[token.pk]), follow=True)
    assert "requests with it are refused from now on" in response.content.decode()
    refused = call(client, {"text": "a superb film"}, key)
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"
    assert re.match(r"This API key was revoked on \d{4}-\d\d-\d\d", refused.json()["error"])
    assert "revoked" in client.get(reverse("sentiment:api_keys")).content.decode()


def test_an_expired_key_is_refused_with_the_reason(client, person, served_run):
    key = api_token_create(user=person, expires_in_days=1)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = call(client, {"text": "a superb film"}, key)
    assert refused.status_code == 401 and refused.json()["error"].startswith("This API key expired on")


def test_nobody_revokes_another_persons_key_or_by_a_get(client, person, staff, served_run):
    key = api_token_create(user=staff)
    token = ApiToken.objects.get()
    client.force_login(person)
    assert client.post(reverse("sentiment:api_key_revoke", args=[token.pk])).status_code == 404
    client.force_login(staff)
    assert client.get(reverse("sentiment:api_key_revoke", args=[token.pk])).status_code == 405
    assert ApiToken.objects.get().revoked_at is None
    assert call(client, {"text": "a superb film"}, key).status_code == 200


def test_a_key_is_revoked_once_and_the_second_try_is_a_404(client, person, served_run):
    api_token_create(user=person)
    token = ApiToken.objects.get()
    client.force_login(person)
    assert client.post(reverse("sentiment:api_key_revoke", args=[token.pk])).status_code == 302
    revoked_at = ApiToken.objects.get().revoked_at
    assert client.post(reverse("sentiment:api_key_revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.get().revoked_at == revoked_at  # the first revocation's time is kept


def test_revoking_needs_the_pages_csrf_token(person, served_run):
    key = api_token_create(user=person)
    token = ApiToken.objects.get()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(person)
    assert browser.post(reverse("sentiment:api_key_revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.get().revoked_at is None
    assert call(browser, {"text": "a superb film"}, key).status_code == 200
    page = browser.get(reverse("sentiment:api_keys"))
    csrf = page.cookies["csrftoken"].value
    revoked = browser.post(reverse("sentiment:api_key_revoke", args=[token.pk]), {"csrfmiddlewaretoken": csrf})
    assert revoked.status_code == 302 and ApiToken.objects.get().revoked_at is not None


def test_an_expired_key_is_listed_as_expired_and_can_still_be_revoked(client, person):
    api_token_create(user=person, name="old script", expires_in_days=30)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(days=1))
    client.force_login(person)
    page = client.get(reverse("sentiment:api_keys")).content.decode()
    assert "(expired)" in page and "Revoke" in page


def test_a_key_made_before_prefixes_were_kept_is_listed_without_one(client, person):
    api_token_create(user=person, name="legacy")
    ApiToken.objects.update(prefix="")
    client.force_login(person)
    assert "<code>rs_…</code>" in client.get(reverse("sentiment:api_keys")).content.decode()


def test_an_unknown_key_learns_nothing(client, served_run):
    refused = call(client, {"text": "a superb film"}, "rs_not-a-key")
    assert refused.status_code == 401 and "revoked" not in refused.json()["error"]


def test_staff_choose_a_staff_scope_for_a_key_and_people_are_not_offered_it(client, person, staff):
    client.force_login(person)
    page = client.get(reverse("sentiment:api_keys")).content.decode()
    assert 'name="scope"' not in page
    client.post(reverse("sentiment:api_keys"), {"name": "sneaky", "scope": "staff"})  # sent anyway: ignored
    assert person.api_tokens.get().scope == "classify"
    client.force_login(staff)
    assert 'name="scope"' in client.get(reverse("sentiment:api_keys")).content.decode()
    client.post(reverse("sentiment:api_keys"), {"name": "deploy script", "scope": "staff"})
    assert staff.api_tokens.get().scope == "staff"
