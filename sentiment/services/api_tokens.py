"""API keys: created by their owner, checked on every API request by one indexed lookup of their hash,
revoked by their owner (or expired) from then on. The key itself is shown once: only its SHA-256 and its
first characters (to tell keys apart in a list) are kept.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from sentiment.models import ApiToken
from sentiment.permissions import can_manage_training

KEY_PREFIX = "rs_"
SCHEMES = {"bearer", "token"}  # the Authorization schemes a key comes with, in any case
SHOWN_PREFIX = 8  # characters of a key kept in clear: "rs_" and five random ones
LAST_USED_EVERY = timedelta(minutes=1)  # a busy key's "last used" is written at most this often


def api_key_in(header: str) -> str:
    """The key in an ``Authorization`` header: "Bearer <key>" in any case and spacing ("bearer  <key> " is
    the same key), "" when there is none. Every reader of keys reads them here: the limits count a key by
    what it is, not by how it was written."""
    scheme, _, key = (header or "").strip().partition(" ")
    return key.strip() if scheme.lower() in SCHEMES else ""


def api_token_create(
    *, user, name: str = "", expires_in_days: int | None = None, scope: str = ApiToken.Scope.CLASSIFY
) -> str:
    """A new key for ``user``, valid for ``expires_in_days`` (None: until revoked); the caller shows it once.

    Keys are made by the signed-in person, never by another key (the pages and API v1 see to it): a leaked
    key cannot make one that outlives it. A person holds at most ``MAX_API_KEYS_PER_PERSON`` usable keys,
    and only staff make a key with the staff scope."""
    if scope not in ApiToken.Scope.values:
        raise ValidationError(f"A key's scope is one of {', '.join(ApiToken.Scope.values)}.")
    if scope == ApiToken.Scope.STAFF and not can_manage_training(user):
        raise ValidationError("Only staff who manage training can make a key for the staff operations.")
    usable = ApiToken.objects.filter(user=user, revoked_at__isnull=True).exclude(expires_at__lte=timezone.now())
    if usable.count() >= settings.MAX_API_KEYS_PER_PERSON:
        raise ValidationError(
            f"You have {settings.MAX_API_KEYS_PER_PERSON} API keys, the most one person may hold: revoke one you "
            "no longer use first (more keys would not buy more requests: the limits count the person)."
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    ApiToken.objects.create(
        user=user, name=name[:100], key_hash=ApiToken.hash_key(key), prefix=key[:SHOWN_PREFIX],
        expires_at=expires_at, scope=scope,
    )  # fmt: skip
    return key


def api_token_revoke(*, user, token_id: int) -> bool:
    """Revoke one of ``user``'s own keys; False when it is not theirs or was already revoked."""
    mine = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True)
    return bool(mine.update(revoked_at=timezone.now()))


def api_token_used(*, token: ApiToken) -> None:
    """Record that ``token`` answered a request, at most once per ``LAST_USED_EVERY`` (one UPDATE, skipped
    while the stored time is recent), so that a key answering many requests a second costs no write each."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return  # the token was just read: no query at all while its stored time is recent
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)  # concurrent requests: one writes
