"""Who is calling: an API key in ``Authorization: Bearer <key>`` (hashed in the database, revocable, with
an optional expiry and its last use recorded), or, for a browser on the site (the interactive docs), the
signed-in session, which django-ninja checks for a CSRF token on every request that changes something."""

from __future__ import annotations

from ninja import security

from sentiment import selectors, services
from sentiment.api_v1.errors import ApiError
from sentiment.permissions import can_manage_training

NO_KEY = "Send a valid API key: 'Authorization: Bearer <key>' (create one on the API page), or sign in."
STAFF_ONLY = "Only staff who manage training may do this."


def _allowed(user, *, staff: bool):
    """``user``, once known; for a staff operation, a 403 to anyone else, before the request's body is read
    (a person learns nothing of a staff operation from its validation messages)."""
    if user and staff and not can_manage_training(user):
        raise ApiError("forbidden", STAFF_ONLY)
    return user


class ApiKey(security.HttpBearer):
    """The key's owner, once the key is known, not revoked, not expired and its owner active."""

    def __init__(self, *, staff: bool = False) -> None:
        super().__init__()
        self.staff = staff

    def authenticate(self, request, token: str):
        check = selectors.api_token_check(key=token.strip())
        if check.token is None:
            raise ApiError("unauthorized", check.refusal, **{"WWW-Authenticate": "Bearer"})
        services.api_token_used(token=check.token)
        request.api_token = check.token
        return _allowed(check.token.user, staff=self.staff)


class SessionAuth(security.SessionAuth):
    """The signed-in person, as django-ninja's session auth finds them (CSRF checked); the same class name,
    so the schema has one session scheme whether the operation is for staff or not."""

    def __init__(self, *, staff: bool = False) -> None:
        super().__init__()
        self.staff = staff

    def authenticate(self, request, key):
        return _allowed(super().authenticate(request, key), staff=self.staff)


def key_or_session(*, staff: bool = False) -> list:
    """The key is tried first: a script with a key needs no cookie, a browser on the site needs no key.
    ``staff``: for the routers of staff operations (runs, serving)."""
    return [ApiKey(staff=staff), SessionAuth(staff=staff)]


def caller(request):
    """The user the request authenticated as (ninja puts what the auth returned in ``request.auth``)."""
    return request.auth
