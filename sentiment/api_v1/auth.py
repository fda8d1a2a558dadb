"""Who is calling: an API key in ``Authorization: Bearer <key>`` (hashed in the database, revocable, with
an optional expiry and its last use recorded), or, for a browser on the site (the interactive docs), the
signed-in session, which django-ninja checks for a CSRF token on every request that changes something."""

from __future__ import annotations

from ninja.security import HttpBearer, django_auth

from sentiment import selectors, services
from sentiment.api_v1.errors import ApiError
from sentiment.permissions import can_manage_training

NO_KEY = "Send a valid API key: 'Authorization: Bearer <key>' (create one on the API page), or sign in."


class ApiKey(HttpBearer):
    """The key's owner, once the key is known, not revoked, not expired and its owner active."""

    def authenticate(self, request, token: str):
        check = selectors.api_token_check(key=token.strip())
        if check.token is None:
            raise ApiError("unauthorized", check.refusal, **{"WWW-Authenticate": "Bearer"})
        services.api_token_used(token=check.token)
        request.api_token = check.token
        return check.token.user


def key_or_session() -> list:
    """The key is tried first: a script with a key needs no cookie, a browser on the site needs no key."""
    return [ApiKey(), django_auth]


def caller(request):
    """The user the request authenticated as (ninja puts what the auth returned in ``request.auth``)."""
    return request.auth


def staff_only(request) -> None:
    if not can_manage_training(caller(request)):
        raise ApiError("forbidden", "Only staff who manage training may do this.")
