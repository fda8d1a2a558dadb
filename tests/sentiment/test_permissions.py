import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from sentiment.models import TrainingRun
from sentiment.permissions import TrainingStaffRequiredMixin, can_manage_training

pytestmark = pytest.mark.django_db


def test_only_active_staff_manage_training(staff, person):
    assert can_manage_training(staff)
    assert not any(can_manage_training(someone) for someone in (person, AnonymousUser(), None))
    staff.is_active = False
    assert not can_manage_training(staff)


def test_a_refused_staff_action_changes_nothing(client, person, finished_run):
    running = TrainingRun.objects.create(preset="smoke", config={}, status=TrainingRun.Status.RUNNING)
    client.force_login(person)
    assert client.post(reverse("sentiment:run_cancel", args=[running.pk])).status_code == 403
    assert client.post(reverse("sentiment:run_promote", args=[finished_run.pk])).status_code == 403
    running.refresh_from_db()
    assert not running.cancel_requested and not finished_run.promotions.exists()


def test_visitors_not_signed_in_are_sent_to_sign_in(client, finished_run):
    response = client.get(reverse("sentiment:run_detail", args=[finished_run.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_admin_shows_runs_only_to_staff(client, person, staff):
    client.force_login(person)
    assert client.get(reverse("admin:sentiment_trainingrun_changelist")).status_code == 302
    client.force_login(staff)
    assert client.get(reverse("admin:sentiment_trainingrun_changelist")).status_code == 200


def staff_urls(run_id: int) -> list[str]:
    """Every page of the site guarded by the staff rule, read from the URL conf (not listed by hand)."""
    from sentiment import urls

    guarded = [
        pattern.name
        for pattern in urls.urlpatterns
        if issubclass(getattr(pattern.callback, "view_class", object), TrainingStaffRequiredMixin)
    ]
    # the staff rule is checked before anything is looked up, so any id will do for pages that take one
    takes_id = {name for name in guarded if "<int:" in str(next(p for p in urls.urlpatterns if p.name == name).pattern)}
    return [reverse(f"sentiment:{name}", args=[run_id] if name in takes_id else []) for name in guarded]


def test_non_staff_get_403_on_every_staff_url(client, person, finished_run):
    found = staff_urls(finished_run.pk)
    assert len(found) >= 9  # run page, progress, cancel, promote, mistakes, behaviour, compare, serving history...
    client.force_login(person)
    for url in found:
        assert client.post(url).status_code == 403, url
        assert client.get(url).status_code in (403, 405), url
    assert not finished_run.promotions.exists()
