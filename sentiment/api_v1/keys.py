"""The caller: who they are, and their API keys (list, create, revoke)."""

from django.core.exceptions import ValidationError
from ninja import Router, Status

from sentiment.api_v1.auth import caller, session_only
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.schemas import KeyCreatedOut, KeyIn, KeyOut, MeOut, answers
from sentiment.permissions import can_manage_training
from sentiment.selectors.api_tokens import api_token_check, api_token_list
from sentiment.services.api_tokens import api_token_create, api_token_revoke

router = Router(tags=["you"])


@router.get("/me", response=answers({200: MeOut}), summary="Who you are")
def me(request):
    user = caller(request)
    return {
        "username": user.get_username(),
        "is_staff": can_manage_training(user),
        "key": getattr(request, "api_token", None),
    }


@router.get("/keys", response=answers({200: list[KeyOut]}), summary="Your API keys, active ones first")
def key_list(request):
    return api_token_list(user=caller(request))


@router.post(
    "/keys", auth=session_only(), response=answers({201: KeyCreatedOut}, 400, 413, 415), summary="Create an API key"
)
def key_create(request, body: KeyIn):
    """The new key is in this answer only: store it now (only its hash is kept). Signed in on the site only: a
    key never makes keys. At most ``MAX_API_KEYS_PER_PERSON`` usable keys; the staff scope is for staff."""
    user = caller(request)
    try:
        key = api_token_create(user=user, name=body.name, expires_in_days=body.expires_in_days, scope=body.scope)
    except ValidationError as exc:
        raise ApiError("invalid", " ".join(exc.messages), fields={"scope": exc.messages[0]}) from None
    token = api_token_check(key=key).token
    token.key = key
    return Status(201, token)


@router.post(
    "/keys/{key_id}/revoke", auth=session_only(), response=answers({200: KeyOut}, 404, 409),
    summary="Revoke one of your API keys",
)  # fmt: skip
def key_revoke(request, key_id: int):
    """Requests with it are refused at once. Signed in on the site only, as keys are made."""
    user = caller(request)
    token = api_token_list(user=user).filter(pk=key_id).first()
    if token is None:
        raise ApiError("not_found", f"You have no API key #{key_id}.")
    if token.revoked_at is not None:
        raise ApiError("conflict", f"API key #{key_id} was already revoked.")
    api_token_revoke(user=user, token_id=key_id)
    token.refresh_from_db()
    return token
