from django.urls import path

from sentiment import api, views

app_name = "sentiment"
urlpatterns = [
    path("", views.classify, name="classify"),
    path("history/", views.history, name="history"),
    path("api/", views.api_keys, name="api_keys"),
    path("api/classify", api.classify, name="api_classify"),
    path("csv/", views.csv_upload, name="csv_upload"),
    path("csv/<int:job_id>/", views.csv_detail, name="csv_detail"),
    path("csv/<int:job_id>/status.json", views.csv_status, name="csv_status"),
    path("csv/<int:job_id>/download/", views.csv_download, name="csv_download"),
    path("runs/<int:run_id>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<int:run_id>/progress.json", views.RunProgressView.as_view(), name="run_progress"),
    path("runs/<int:run_id>/cancel/", views.RunCancelView.as_view(), name="run_cancel"),
    path("runs/<int:run_id>/promote/", views.RunPromoteView.as_view(), name="run_promote"),
]
