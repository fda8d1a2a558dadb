"""Reads: API keys, checked on every API request by one indexed lookup of their hash, and listed."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, QuerySet
from django.utils import timezone

from sentiment.models import (
    ApiToken,
)


@dataclass(frozen=True)
class KeyCheck:
    """What a presented API key is worth: its token when it may be used, else why not (for the answer)."""

    token: ApiToken | None
    refusal: str = ""


def api_token_check(*, key: str) -> KeyCheck:
    """Whether ``key`` may call the API now: known, not revoked, not expired, and its owner active.

    A revoked or expired key is told so (whoever sends it held it); an unknown one learns nothing."""
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first() if key else None
    if token is None or not token.user.is_active:
        return KeyCheck(None, "Send a valid API key: 'Authorization: Bearer <key>' (create one on the API page).")
    if token.revoked_at is not None:
        return KeyCheck(None, f"This API key was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC; create a new one.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return KeyCheck(None, f"This API key expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; create a new one.")
    return KeyCheck(token)


def api_token_check_once(request, *, key: str) -> KeyCheck:
    """``api_token_check`` once per request and key: the rate limits (to count the key's owner) and the API's
    own authentication read the same header of one request, and a second lookup would cost a query."""
    checks = request.__dict__.setdefault("_api_key_checks", {})
    if key not in checks:
        checks[key] = api_token_check(key=key)
    return checks[key]


def api_token_list(*, user) -> QuerySet[ApiToken]:
    """The person's keys, active ones first."""
    return ApiToken.objects.filter(user=user).order_by(F("revoked_at").asc(nulls_first=True), "-created_at")
