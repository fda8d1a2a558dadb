"""Who is calling: an API key in ``Authorization: Bearer <key>`` (hashed in the database, revocable, with
an optional expiry and its last use recorded), or, for a browser on the site (the interactive docs), the
signed-in session, which django-ninja checks for a CSRF token on every request that changes something."""

from __future__ import annotations

from ninja import security

from sentiment.api_v1.errors import ApiError
from sentiment.models import ApiToken
from sentiment.permissions import can_manage_training
from sentiment.selectors.api_tokens import api_token_check_once
from sentiment.services.api_tokens import api_key_in, api_token_used

NO_KEY = "Send a valid API key: 'Authorization: Bearer <key>' (create one on the API page), or sign in."
STAFF_ONLY = "Only staff who manage training may do this."
STAFF_SCOPE = (
    "This key may classify, not manage training: make a key with the staff scope on the API page (signed in) "
    "for the staff operations."
)


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

    def __call__(self, request):
        """The key as every reader of keys reads it (``api_key_in``: any case and spacing of "Bearer")."""
        key = api_key_in(request.headers.get("Authorization", ""))
        return self.authenticate(request, key) if key else None

    def authenticate(self, request, token: str):
        check = api_token_check_once(request, key=token)
        if check.token is None:
            raise ApiError("unauthorized", check.refusal, **{"WWW-Authenticate": "Bearer"})
        api_token_used(token=check.token)
        request.api_token = check.token
        if self.staff and check.token.scope != ApiToken.Scope.STAFF and can_manage_training(check.token.user):
            raise ApiError("forbidden", STAFF_SCOPE)
        return _allowed(check.token.user, staff=self.staff)


class SessionAuth(security.SessionAuth):
    """The signed-in person, as django-ninja's session auth finds them (CSRF checked); the same class name,
    so the schema has one session scheme whether the operation is for staff or not."""

    def __init__(self, *, staff: bool = False) -> None:
        super().__init__()
        self.staff = staff

    def authenticate(self, request, key):
        return _allowed(super().authenticate(request, key), staff=self.staff)


KEYS_BY_SESSION = (
    "API keys are made and revoked by the person signed in on the site (the API page, or these docs signed "
    "in), never with a key: a key that leaked could otherwise make one that outlives it."
)


class SessionOnly(SessionAuth):
    """The signed-in person alone; a request that brings a key instead is told why it is not enough."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is None and request.headers.get("Authorization"):
            raise ApiError("unauthorized", KEYS_BY_SESSION)
        return user


def session_only() -> list:
    """For making and revoking keys (``KEYS_BY_SESSION``)."""
    return [SessionOnly()]


def key_or_session(*, staff: bool = False) -> list:
    """The key is tried first: a script with a key needs no cookie, a browser on the site needs no key.
    ``staff``: for the routers of staff operations (runs, serving)."""
    return [ApiKey(staff=staff), SessionAuth(staff=staff)]


def caller(request):
    """The user the request authenticated as (ninja puts what the auth returned in ``request.auth``)."""
    return request.auth
