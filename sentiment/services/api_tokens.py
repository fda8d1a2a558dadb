"""API keys: created by their owner, checked on every API request by one indexed lookup of their hash,
revoked by their owner (or expired) from then on. The key itself is shown once: only its SHA-256 and its
first characters (to tell keys apart in a list) are kept.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from sentiment.models import ApiToken

KEY_PREFIX = "rs_"
SHOWN_PREFIX = 8  # characters of a key kept in clear: "rs_" and five random ones
LAST_USED_EVERY = timedelta(minutes=1)  # a busy key's "last used" is written at most this often


def api_token_create(*, user, name: str = "", expires_in_days: int | None = None) -> str:
    """A new key for ``user``, valid for ``expires_in_days`` (None: until revoked); the caller shows it once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    ApiToken.objects.create(
        user=user, name=name[:100], key_hash=ApiToken.hash_key(key), prefix=key[:SHOWN_PREFIX], expires_at=expires_at
    )
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
