"""Training workers say what hardware they have when they start, so the launch form can estimate a run
(``sentiment.selectors.estimates``) before any worker takes it."""

from __future__ import annotations

from django.utils import timezone

from sentiment.models import WorkerHost


def worker_host_record(*, hostname: str, hardware: dict) -> WorkerHost:
    host, _ = WorkerHost.objects.update_or_create(
        hostname=hostname, defaults={"hardware": hardware, "seen_at": timezone.now()}
    )
    return host
