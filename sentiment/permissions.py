"""Who may do what, decided once, at the interface (pages, admin); the services trust their caller.

Anyone signed in classifies reviews and sees their own history; staff also launch, follow, cancel and
promote training runs (the product's staff role, the ``is_staff`` flag Django's admin already uses).
"""

from __future__ import annotations

from django.contrib.auth.mixins import UserPassesTestMixin


def can_manage_training(user) -> bool:
    return bool(user and user.is_active and user.is_staff)


class TrainingStaffRequiredMixin(UserPassesTestMixin):
    """For views: people signed in without the right get 403 Forbidden, visitors the sign-in page."""

    permission_denied_message = "Only staff can see or change training runs."

    def test_func(self) -> bool:
        return can_manage_training(self.request.user)
