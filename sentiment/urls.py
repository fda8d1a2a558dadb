from django.urls import path

from sentiment import api, dataset_views, run_views, views
from sentiment.limits import ADDRESS, API_KEY, EXPLAIN, PERSON, rate_limited

# Costly requests are rate-limited per caller (sentiment/limits.py): classifications and uploads against
# one budget per person, whichever way they come; on the API per key and per address too.
per_person = rate_limited(PERSON)
per_key_and_ip = rate_limited(ADDRESS, API_KEY, PERSON, json=True)
# An explanation reads a review again up to 41 times, on a GET: counted on its own, GETs included.
explanations = rate_limited(EXPLAIN, methods=("GET", "POST"))

app_name = "sentiment"
urlpatterns = [
    path("", per_person(views.classify), name="classify"),
    path("history/", views.history, name="history"),
    path("history/<int:prediction_id>/why/", explanations(views.prediction_why), name="prediction_why"),
    path("history/<int:prediction_id>/feedback/", views.prediction_feedback, name="prediction_feedback"),
    path("analyses/<int:job_id>.json", views.analysis_status, name="analysis_status"),
    path("api/predictions/<int:prediction_id>/feedback", per_key_and_ip(api.prediction_feedback), name="api_feedback"),
    path("feedback/", run_views.FeedbackQueueView.as_view(), name="feedback_queue"),
    path("datasets/", per_person(dataset_views.DatasetListView.as_view()), name="dataset_list"),
    path("datasets/<int:dataset_id>/", dataset_views.DatasetDetailView.as_view(), name="dataset_detail"),
    path("datasets/<int:dataset_id>/delete/", dataset_views.DatasetDeleteView.as_view(), name="dataset_delete"),
    path("api/", views.api_keys, name="api_keys"),
    path("api/keys/<int:token_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("api/classify", per_key_and_ip(api.classify), name="api_classify"),
    path("csv/", per_person(views.csv_upload), name="csv_upload"),
    path("csv/<int:job_id>/", views.csv_detail, name="csv_detail"),
    path("csv/<int:job_id>/status.json", views.csv_status, name="csv_status"),
    path("csv/<int:job_id>/download/", views.csv_download, name="csv_download"),
    path("runs/<int:run_id>/", run_views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:run_id>/progress.json", run_views.RunProgressView.as_view(), name="run_progress"),
    path("runs/<int:run_id>/cancel/", run_views.RunCancelView.as_view(), name="run_cancel"),
    path("runs/<int:run_id>/promote/", run_views.RunPromoteView.as_view(), name="run_promote"),
    path("runs/<int:run_id>/resume/", run_views.RunResumeView.as_view(), name="run_resume"),
    path("runs/<int:run_id>/mistakes/", run_views.RunMistakesView.as_view(), name="run_mistakes"),
    path("runs/<int:run_id>/behaviour/", run_views.RunBehaviourView.as_view(), name="run_behaviour"),
    path("runs/compare/", run_views.RunCompareView.as_view(), name="run_compare"),
    path("serving/", run_views.ServingHistoryView.as_view(), name="serving_history"),
]
