"""Requests that create something, made safe to send again: an ``Idempotency-Key`` names one request.

A script that launched a run and lost the answer (a timeout, a dropped connection) cannot know whether
the run was created. Sent again with the same key, the request creates nothing and answers about the
object the first one created. The key is recorded in the same transaction as the object, so a key is
never remembered for an object that was rolled back, and two requests with one key at the same moment
wait for each other on the key's unique index: the second one answers the first one's object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from sentiment.models import IdempotentRequest

logger = logging.getLogger(__name__)


class IdempotencyKeyReused(Exception):
    """The key was used by this user for a different request (another endpoint, another body)."""


@dataclass(frozen=True)
class Once:
    """What a request with a key comes to: the object it (or its first sending) created."""

    object_id: int
    status_code: int
    replayed: bool  # True when an earlier request with this key created the object


def request_once(
    *, user, key: str, operation: str, fingerprint: str, create: Callable[[], Model], status_code: int = 201
) -> Once:
    """Run ``create`` unless this user's ``key`` was used in the last ``IDEMPOTENCY_KEY_HOURS``.

    ``operation`` and ``fingerprint`` (a hash of the request) tell a retry from another request that
    reuses the key: that is refused with ``IdempotencyKeyReused``. When ``create`` raises, nothing is
    recorded: the request may be sent again with the same key once it is fixed.
    """
    forget_before = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    IdempotentRequest.objects.filter(user=user, created_at__lt=forget_before).delete()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    user=user, key=key, operation=operation, fingerprint=fingerprint
                )
        except IntegrityError:  # sent before (or being sent now: the insert waited for it to commit)
            return _replayed(user=user, key=key, operation=operation, fingerprint=fingerprint)
        created = create()
        record.object_id, record.status_code = created.pk, status_code
        record.save(update_fields=["object_id", "status_code"])
    return Once(object_id=created.pk, status_code=status_code, replayed=False)


def _replayed(*, user, key: str, operation: str, fingerprint: str) -> Once:
    first = IdempotentRequest.objects.get(user=user, key=key)
    if first.operation != operation or first.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"This Idempotency-Key was used for a different request ({first.operation}, "
            f"{first.created_at:%Y-%m-%d %H:%M} UTC): use a new key for a new request."
        )
    logger.info("%s sent again: answering with object %s", first, first.object_id)
    return Once(object_id=first.object_id, status_code=first.status_code, replayed=True)
