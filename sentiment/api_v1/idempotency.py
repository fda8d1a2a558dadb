"""The ``Idempotency-Key`` header of the endpoints that create something (launch a run, upload a CSV):
the same key sent again answers the first request's object, marked ``Idempotent-Replayed: true``."""

import hashlib
import json
from collections.abc import Callable, Iterable

from django.db.models import Model
from django.http import HttpResponse
from ninja import Header, Status

from sentiment.api_v1.auth import caller
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.fields import PRINTABLE_ASCII
from sentiment.services.idempotency import IdempotencyKeyReused, request_once

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
KEY_HEADER = Header(
    None,
    alias=HEADER,
    max_length=MAX_KEY_CHARS,
    pattern=PRINTABLE_ASCII,
    description="Any unique string of printable ASCII (a UUID) per request: sending the same request again with "
    "the same key within IDEMPOTENCY_KEY_HOURS creates nothing new and answers the first one's object.",
)


def body_fingerprint(data) -> str:
    """A request body's hash, the same for the same JSON whatever the order of its keys."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def file_fingerprint(name: str, chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256(name.encode() + b"\0")
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def created_once(
    request,
    response: HttpResponse,
    key: str | None,
    *,
    operation: str,
    fingerprint: Callable[[], str],
    create: Callable[[], Model],
    load: Callable[[int], Model],
) -> Status:
    """201 and the object (``load``-ed once committed): created by ``create``, or by the first request sent
    with this key."""
    if key is None:
        return Status(201, load(create().pk))
    try:
        once = request_once(
            user=caller(request), key=key, operation=operation, fingerprint=fingerprint(), create=create
        )
    except IdempotencyKeyReused as exc:
        raise ApiError("conflict", str(exc), fields={HEADER: "used for a different request"}) from None
    if once.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return Status(once.status_code, load(once.object_id))  # read after the commit: as it is now
