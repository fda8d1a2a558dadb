from django.urls import path

from sentiment import api
from sentiment.limits import EXPLAIN, PERSON, rate_limited
from sentiment.views import datasets as dataset_views
from sentiment.views.analysis import analysis_status
from sentiment.views.csv_uploads import csv_detail, csv_download, csv_status, csv_upload
from sentiment.views.keys import api_key_revoke, api_keys
from sentiment.views.monitor import MonitorView
from sentiment.views.reviews import classify, history, prediction_feedback, prediction_why
from sentiment.views.runs import (
    RunBehaviourView,
    RunCancelView,
    RunDetailView,
    RunDistilView,
    RunMistakesView,
    RunProgressView,
    RunResumeView,
)
from sentiment.views.serving import FeedbackQueueView, RunCompareView, RunPromoteView, ServingHistoryView

# Costly pages are rate-limited per caller (sentiment/limits.py): classifications and uploads against one
# budget per person, whichever way they come; explanations on their own (limits.EXPLAIN says which requests
# count). Both APIs count in their views (sentiment/api_v1/throttle.py).
per_person = rate_limited(PERSON)
explanations = rate_limited(EXPLAIN)

app_name = "sentiment"
urlpatterns = [
    path("", per_person(classify), name="classify"),
    path("history/", history, name="history"),
    path("history/<int:prediction_id>/why/", explanations(prediction_why), name="prediction_why"),
    path("history/<int:prediction_id>/feedback/", prediction_feedback, name="prediction_feedback"),
    path("analyses/<int:job_id>.json", analysis_status, name="analysis_status"),
    path("api/predictions/<int:prediction_id>/feedback", api.prediction_feedback, name="api_feedback"),
    path("feedback/", FeedbackQueueView.as_view(), name="feedback_queue"),
    path("datasets/", per_person(dataset_views.DatasetListView.as_view()), name="dataset_list"),
    path("datasets/<int:dataset_id>/", dataset_views.DatasetDetailView.as_view(), name="dataset_detail"),
    path("datasets/<int:dataset_id>/delete/", dataset_views.DatasetDeleteView.as_view(), name="dataset_delete"),
    path("api/", api_keys, name="api_keys"),
    path("api/keys/<int:token_id>/revoke/", api_key_revoke, name="api_key_revoke"),
    path("api/classify", api.classify, name="api_classify"),
    path("csv/", per_person(csv_upload), name="csv_upload"),
    path("csv/<int:job_id>/", csv_detail, name="csv_detail"),
    path("csv/<int:job_id>/status.json", csv_status, name="csv_status"),
    path("csv/<int:job_id>/download/", csv_download, name="csv_download"),
    path("runs/<int:run_id>/", RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:run_id>/progress.json", RunProgressView.as_view(), name="run_progress"),
    path("runs/<int:run_id>/cancel/", RunCancelView.as_view(), name="run_cancel"),
    path("runs/<int:run_id>/promote/", RunPromoteView.as_view(), name="run_promote"),
    path("runs/<int:run_id>/resume/", RunResumeView.as_view(), name="run_resume"),
    path("runs/<int:run_id>/distil/", RunDistilView.as_view(), name="run_distil"),
    path("runs/<int:run_id>/mistakes/", RunMistakesView.as_view(), name="run_mistakes"),
    path("runs/<int:run_id>/behaviour/", RunBehaviourView.as_view(), name="run_behaviour"),
    path("runs/compare/", RunCompareView.as_view(), name="run_compare"),
    path("monitor/", MonitorView.as_view(), name="monitor"),
    path("serving/", ServingHistoryView.as_view(), name="serving_history"),
]
