"""What people say about their answers: "this is wrong, it is positive". Staff review each one; the
accepted ones form the corrections set (``corrections_set``).

A person gives feedback on their own answers only, once per answer; they may change it until staff have
reviewed it. Reviewing is one conditional update per item, so two staff members clicking at once never
both decide the same item.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone

from ml.data.corrections import corrections_write
from sentiment.models import Feedback, Prediction
from sentiment.selectors.feedback import corrections_path, corrections_set

logger = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 500


def prediction_feedback_give(*, prediction: Prediction, correct_label: str, comment: str = "") -> Feedback:
    """Record that ``prediction`` should have been ``correct_label`` (the caller checked it is the person's)."""
    correct_label = (correct_label or "").strip().lower()
    comment = (comment or "").strip()
    if correct_label not in Feedback.LABELS:
        raise ValidationError('Say what the right answer is: "positive" or "negative".')
    if correct_label == prediction.label:
        raise ValidationError(f"The model already answered {correct_label}: feedback is for wrong answers.")
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(f"Keep the comment under {MAX_COMMENT_CHARS} characters (it has {len(comment)}).")
    feedback, created = Feedback.objects.get_or_create(
        prediction=prediction, defaults={"correct_label": correct_label, "comment": comment}
    )
    if not created:
        changed = Feedback.objects.filter(pk=feedback.pk, status=Feedback.Status.PENDING).update(
            correct_label=correct_label, comment=comment
        )
        if not changed:
            raise ValidationError("Staff have already reviewed your feedback on this answer.")
        feedback.refresh_from_db()
    logger.info("feedback on prediction %s: %s", prediction.pk, correct_label)
    return feedback


def feedback_review(*, feedback_ids: list[int], status: str, user) -> int:
    """Accept or reject the pending items among ``feedback_ids``; returns how many were decided now."""
    if status not in (Feedback.Status.ACCEPTED, Feedback.Status.REJECTED):
        raise ValidationError("Feedback is either accepted or rejected.")
    return Feedback.objects.filter(pk__in=feedback_ids, status=Feedback.Status.PENDING).update(
        status=status, reviewed_by=user, reviewed_at=timezone.now()
    )


def corrections_snapshot() -> str:
    """The current corrections set saved to its file (once per version), for the runs launched now to train
    on and be scored on; "" while nothing was accepted. Accepted corrections are never withdrawn, so a
    set only grows and a run's file stays what it was when the run was launched."""
    current = corrections_set()
    if not current.rows:
        return ""
    path = corrections_path(version=current.version)
    if not path.is_file():
        corrections_write(
            path,
            texts=[r["text"] for r in current.rows],
            labels=[r["label"] for r in current.rows],
            version=current.version,
        )
    return str(path)
