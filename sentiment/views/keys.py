"""The API-key page: a person's keys, made and revoked signed in."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from sentiment.forms import ApiKeyForm
from sentiment.permissions import can_manage_training
from sentiment.selectors.api_tokens import api_token_list
from sentiment.services.api_tokens import api_token_create, api_token_revoke

NEW_KEY = "sentiment.new_api_key"  # session key: a new API key, until the page that shows it once


@never_cache  # the page may show a key: no browser or proxy may keep a copy
@login_required
def api_keys(request):
    """How to call the API, and the person's keys. Post/redirect/get: a new key is kept in the session
    just long enough for the next GET to show it once, so a refresh or the back button never shows it."""
    form = ApiKeyForm(request.POST or None, staff=can_manage_training(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            request.session[NEW_KEY] = api_token_create(
                user=request.user,
                name=form.cleaned_data["name"].strip(),
                expires_in_days=form.cleaned_data["expires_in_days"],
                scope=form.chosen_scope,
            )
            return redirect("sentiment:api_keys")
        except ValidationError as exc:
            form.add_error(None, exc)
    return render(
        request,
        "sentiment/api_keys.html",
        {
            "form": form,
            "new_key": request.session.pop(NEW_KEY, None),
            "tokens": api_token_list(user=request.user),
            "now": timezone.now(),
        },
    )


@require_POST
@login_required
def api_key_revoke(request, token_id: int):
    """Revoke one of the person's own keys (another's, or one already revoked: 404, nothing changes)."""
    if not api_token_revoke(user=request.user, token_id=token_id):
        raise Http404("No such active key of yours.")
    messages.success(request, "The key is revoked: requests with it are refused from now on.")
    return redirect("sentiment:api_keys")
