"""API v1: why the model answered so. A worker works the explanation out (analysis), never the web
request: classify with "explain" answers at once with where to read it, and that answer (GET
/predictions/{id}/explanation) gives the job's progress, then the words that pushed."""

import pytest

from sentiment.models import AnalysisJob
from sentiment.services.analysis_work import analysis_job_process
from sentiment.services.classify import prediction_explanation_request, review_classify

pytestmark = pytest.mark.django_db


def test_classify_with_explain_answers_at_once_and_says_where_to_read_why(call, key, served_run):
    answered = call("POST", "/classify", key=key, json={"text": "A wonderful, moving film.", "explain": True})
    assert answered.status_code == 200, answered.content
    body = answered.json()
    assert body["label"] and body["explanation"] is None and body["explanation_error"] is None
    assert body["explanation_url"] == f"/api/v1/predictions/{body['id']}/explanation"
    job = AnalysisJob.objects.get()
    assert job.kind == AnalysisJob.Kind.EXPLANATION and job.status == AnalysisJob.Status.QUEUED

    waiting = call("GET", f"/predictions/{body['id']}/explanation", key=key)
    assert waiting.status_code == 200 and waiting.json()["status"] == "queued"
    assert waiting.json()["explanation"] is None and AnalysisJob.objects.count() == 1  # the same job

    analysis_job_process(job_id=job.pk)  # the worker's part
    done = call("GET", f"/predictions/{body['id']}/explanation", key=key).json()
    assert done["status"] == "succeeded" and done["percent"] == 100 and done["explanation"]["pieces"]
    again = call("POST", "/classify", key=key, json={"text": "A wonderful, moving film.", "explain": True}).json()
    assert again["explanation"] is None or again["explanation"]["pieces"]  # another answer: its own job


def test_an_explanation_already_worked_out_comes_with_the_answer(call, key, person, served_run):
    prediction = review_classify(user=person, text="A dull, tedious film.")
    analysis_job_process(job_id=prediction_explanation_request(prediction=prediction, user=person).pk)
    done = call("GET", f"/predictions/{prediction.pk}/explanation", key=key).json()
    assert done["status"] == "succeeded" and done["error"] is None and done["explanation"]["pieces"]


def test_someone_elses_answer_has_no_explanation_for_you(call, key, served_run, django_user_model):
    someone = django_user_model.objects.create_user("else", password="pw-else-123")
    theirs = review_classify(user=someone, text="Not yours.")
    refused = call("GET", f"/predictions/{theirs.pk}/explanation", key=key)
    assert refused.status_code == 404 and not AnalysisJob.objects.exists()
