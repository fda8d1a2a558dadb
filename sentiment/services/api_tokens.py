"""API keys: created for a person, checked on every API request by one indexed lookup of their hash."""

from __future__ import annotations

import secrets

from sentiment.models import ApiToken

KEY_PREFIX = "rs_"


def api_token_create(*, user, name: str = "") -> str:
    """A new key for ``user``; the caller shows it once (only its hash is kept)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name[:100], key_hash=ApiToken.hash_key(key))
    return key
