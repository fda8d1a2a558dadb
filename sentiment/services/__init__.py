"""Every write to the database goes through these functions (named ``<thing>_<action>``).

- ``runs``: training runs, their lifecycle and promotion to serving;
- ``classify``: single reviews classified with the served model;
- ``csv_jobs``: CSV uploads classified by the worker, a slice at a time, under a lease;
- ``feedback``: people's corrections of their answers, and staff's review of them;
- ``datasets``: labelled data sets staff upload to train on, checked and saved as a folder a run reads;
- ``checks``: behavioural checks of a finished model, run again on demand;
- ``analysis``: heavy reading (explanations, evidence, checks) done by a worker as a job, never a page;
- ``storage``: a quota of stored bytes per person, the retention, files deleted with their rows;
- ``sweep``: jobs left behind by a dead worker or an absent broker, picked up again;
- ``promotions``: serving a run's model, with who, why and the evidence, in the audit trail;
- ``serving``: the model each process answers with, swapped in the background on promotion;
- ``api_tokens``: keys for the JSON API;
- ``idempotency``: API requests sent again with the same ``Idempotency-Key`` create nothing new;
- ``accounts``: the first administrator of a new deployment;
- ``workers``: the hardware each training worker reported when it started.
"""

from sentiment.services.accounts import admin_user_ensure
from sentiment.services.api_tokens import api_token_create, api_token_revoke, api_token_used
from sentiment.services.checks import training_run_behaviour_request, training_run_check_behaviour
from sentiment.services.classify import prediction_explanation_request, review_classify, reviews_classify
from sentiment.services.csv_jobs import (
    csv_classification_create,
    csv_classification_process,
    csv_classifications_recover,
)
from sentiment.services.datasets import labelled_dataset_create, labelled_dataset_delete
from sentiment.services.feedback import corrections_snapshot, feedback_review, prediction_feedback_give
from sentiment.services.idempotency import IdempotencyKeyReused, request_once
from sentiment.services.promotions import training_run_promote
from sentiment.services.runs import (
    first_model_ensure,
    training_run_cancel,
    training_run_claim,
    training_run_create,
    training_run_fail,
    training_run_finish,
    training_run_heartbeat,
    training_run_interrupt,
    training_run_record_log,
    training_run_record_progress,
    training_run_resume,
    training_runs_record_serving_check,
    training_runs_recover,
)
from sentiment.services.serving import NoModelServed
from sentiment.services.sweep import jobs_sweep
from sentiment.services.workers import worker_host_record

__all__ = [
    "IdempotencyKeyReused",
    "NoModelServed",
    "admin_user_ensure",
    "api_token_create",
    "api_token_revoke",
    "api_token_used",
    "corrections_snapshot",
    "csv_classification_create",
    "csv_classification_process",
    "csv_classifications_recover",
    "feedback_review",
    "first_model_ensure",
    "jobs_sweep",
    "labelled_dataset_create",
    "labelled_dataset_delete",
    "prediction_explanation_request",
    "prediction_feedback_give",
    "request_once",
    "review_classify",
    "reviews_classify",
    "training_run_behaviour_request",
    "training_run_cancel",
    "training_run_check_behaviour",
    "training_run_claim",
    "training_run_create",
    "training_run_fail",
    "training_run_finish",
    "training_run_heartbeat",
    "training_run_interrupt",
    "training_run_promote",
    "training_run_record_log",
    "training_run_record_progress",
    "training_run_resume",
    "training_runs_record_serving_check",
    "training_runs_recover",
    "worker_host_record",
]
