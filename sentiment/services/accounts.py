"""People's accounts: the first administrator of a new deployment."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction


def admin_user_ensure(*, username: str, password: str = "", email: str = "") -> tuple[object, bool, str]:
    """The staff superuser ``username``, created when missing; an existing account is left as it is.

    Returns the user, whether this call created it, and the password it chose when none was given
    (shown once by the caller; only its hash is stored). A given password must pass the site's password
    validators (``ValidationError`` says why not).
    """
    users = get_user_model()
    with transaction.atomic():
        user = users.objects.select_for_update().filter(username=username).first()
        if user is not None:
            return user, False, ""
        chosen = "" if password else secrets.token_urlsafe(12)
        user = users(username=username, email=email, is_staff=True, is_superuser=True)
        validate_password(password or chosen, user)
        user.set_password(password or chosen)
        user.save()
    return user, True, chosen
