"""Heavy reading as jobs (``services.analysis``): shared by key, bounded per person and in all, handed back
when their worker dies, failed after a bounded number of losses, and deleted a while after they end."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sentiment.models import AnalysisJob
from sentiment.services.analysis import (
    AnalysisBusy,
    analysis_job_request,
    analysis_jobs_expire,
    analysis_jobs_recover,
)
from sentiment.services.analysis_work import analysis_job_process

pytestmark = pytest.mark.django_db
Status = AnalysisJob.Status


def ask(user, key: str = "k", **kwargs) -> AnalysisJob:
    return analysis_job_request(kind=AnalysisJob.Kind.BEHAVIOUR, key=key, params={"run": 0}, user=user, **kwargs)


def test_the_same_question_is_one_job_while_it_runs_and_its_result_while_it_is_fresh(person):
    first = ask(person)
    assert ask(person) == first and AnalysisJob.objects.count() == 1
    AnalysisJob.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED, finished_at=timezone.now(), result={})
    assert ask(person, max_age=timedelta(hours=1)) == first
    assert ask(person, max_age=timedelta(0)) != first  # asked again after it ended: computed again


def test_a_person_may_have_a_few_under_way_and_the_queue_is_bounded(person, staff, settings):
    settings.ANALYSIS_JOBS_PER_PERSON, settings.ANALYSIS_QUEUE_MAX = 2, 3
    ask(person, "a"), ask(person, "b")
    with pytest.raises(AnalysisBusy, match="2 analyses under way"):
        ask(person, "c")
    ask(staff, "d")
    with pytest.raises(AnalysisBusy, match="many analyses waiting"):
        ask(staff, "e")
    assert AnalysisJob.objects.count() == 3


def test_a_job_whose_worker_died_is_handed_back_then_given_up_after_its_attempts(person, settings):
    settings.ANALYSIS_MAX_ATTEMPTS = 2
    job = ask(person)
    stale = timezone.now() - timedelta(seconds=settings.ANALYSIS_HEARTBEAT_TIMEOUT + 1)
    AnalysisJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, worker="w1", heartbeat_at=stale)
    assert analysis_jobs_recover() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.worker, job.faults) == (Status.QUEUED, "", 1)
    AnalysisJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, worker="w2", heartbeat_at=stale)
    assert analysis_jobs_recover() == []
    job.refresh_from_db()
    assert job.status == Status.FAILED and "2 times" in job.error


def test_a_job_is_claimed_once_and_a_failure_is_kept_with_its_reason(person):
    job = ask(person)  # run 0 does not exist: the worker fails it with the reason
    assert analysis_job_process(job_id=job.pk, worker="w1") == "failed"
    assert analysis_job_process(job_id=job.pk, worker="w2") == "skipped"
    job.refresh_from_db()
    assert job.status == Status.FAILED and "DoesNotExist" in job.error
    assert ask(person) == job  # shown with its reason for a while, not tried again at every visit


def test_results_are_deleted_a_while_after_their_job_ended(person, settings):
    old, recent = ask(person, "old"), ask(person, "recent")
    AnalysisJob.objects.filter(pk=old.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now() - timedelta(hours=settings.ANALYSIS_KEEP_HOURS + 1)
    )
    assert analysis_jobs_expire() == 1
    assert list(AnalysisJob.objects.values_list("pk", flat=True)) == [recent.pk]
