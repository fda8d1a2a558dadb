"""The database is the source of truth: training runs and their progress, the served model, and every
prediction and CSV classification people made.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from ml.results import RunResults


class BackgroundJob(models.Model):
    """What every row a worker picks up has: whether its message reached the broker (``sentiment.jobs``)."""

    BROKER_AWAY = "Queued: it starts when the worker's message broker is back (nothing is lost meanwhile)."

    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its message last reached the broker; empty while the broker was away."
    )

    class Meta:
        abstract = True

    @property
    def waiting_for_broker(self) -> bool:
        return self.status == "queued" and self.dispatched_at is None

    @property
    def status_display(self) -> str:
        return self.BROKER_AWAY if self.waiting_for_broker else self.get_status_display()


class TrainingRun(BackgroundJob):
    """One fine-tuning run, from the moment staff (or a command) asks for it until it ends."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        INTERRUPTED = "interrupted", "Interrupted (will resume)"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.INTERRUPTED)
    CLAIMABLE = (Status.QUEUED, Status.INTERRUPTED)

    preset = models.CharField(max_length=32)
    config = models.JSONField(help_text="The full TrainingConfig, as ml.config serialises it.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    launched_from = models.CharField(max_length=16, default="admin")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    promote_when_done = models.BooleanField(default=False)
    interruptions = models.PositiveIntegerField(default=0)
    faults = models.PositiveIntegerField(
        default=0, help_text="Interruptions that were faults (not a worker handing the run back as it stopped)."
    )
    teacher = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="students",
        help_text="For a distilled student: the run whose model it learnt from (its folder is in the config).",
    )

    # live progress, written by the training process at a bounded rate
    step = models.PositiveIntegerField(default=0)
    max_steps = models.PositiveIntegerField(default=0)
    epoch = models.FloatField(default=0.0)
    loss = models.FloatField(null=True, blank=True)
    learning_rate = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    eta_at = models.DateTimeField(null=True, blank=True, help_text="When eta_seconds was reported.")
    history = models.JSONField(default=list, blank=True, help_text="Trainer log entries: loss, lr, evaluations.")
    log_tail = models.TextField(blank=True)

    # results
    device = models.CharField(max_length=120, blank=True)
    precision = models.CharField(max_length=8, blank=True)
    output_dir = models.CharField(max_length=500, blank=True)
    last_checkpoint = models.CharField(max_length=500, blank=True)
    model_dir = models.CharField(max_length=500, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    estimate = models.JSONField(
        default=dict, blank=True, help_text="What the launch form expected: seconds, peak memory (ml.estimate)."
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Run #{self.pk} ({self.preset}, {self.config.get('base_model', '?')})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def seconds_left(self) -> float | None:
        """The time left as reported, counted down since: after its last step a run reports nothing while it
        scores the test reviews and checks the model, and the page should not stand still meanwhile."""
        if self.eta_seconds is None or self.eta_at is None or not self.is_active:
            return self.eta_seconds
        return max(self.eta_seconds - (timezone.now() - self.eta_at).total_seconds(), 0.0)

    @property
    def progress_percent(self) -> float:
        if self.status == self.Status.SUCCEEDED:
            return 100.0
        return round(100.0 * self.step / self.max_steps, 1) if self.max_steps else 0.0

    @property
    def results(self) -> RunResults:
        """The run's results (``metrics``) as the typed record every page, command and API answer reads
        (``ml.results``). Read once per instance, and again after ``metrics`` is given another value (a
        refresh, an assignment); writers build a new record and store its ``to_json()``."""
        cached = self.__dict__.get("_results")
        if cached is None or cached[0] is not self.metrics:
            cached = self.__dict__["_results"] = (self.metrics, RunResults.from_json(self.metrics))
        return cached[1]

    @property
    def test_accuracy(self) -> float | None:
        return self.results.test.accuracy


class Promotion(models.Model):
    """The audit trail of serving: who put which model in front of users, when, why, and on what evidence.

    The newest promotion names the served model; any older one can be restored, which adds a new row.
    """

    class Action(models.TextChoices):
        PROMOTE = "promote", "Promoted"
        RESTORE = "restore", "Restored"  # served before: a roll-back, or back to a model after another

    run = models.ForeignKey(TrainingRun, on_delete=models.PROTECT, related_name="promotions")
    promoted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    promoted_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.PROMOTE)
    reason = models.TextField(blank=True, help_text="Why, in the words of whoever did it.")
    replaced = models.ForeignKey(
        TrainingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run served before.",
    )
    figures = models.JSONField(
        default=dict, blank=True, help_text="The evidence at that moment: test scores, checks, the replay."
    )

    class Meta:
        ordering = ["-promoted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.run} {self.get_action_display().lower()} {self.promoted_at:%Y-%m-%d %H:%M}"


class ServingState(models.Model):
    """The one row that says which promotion is served. Every promotion and restore first writes to it,
    in its transaction: the write takes the row's lock (on SQLite, the database's write lock), so two
    promotions at once are done one after the other, and each records the model it really replaced."""

    ROW = 1
    promotion = models.ForeignKey(Promotion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"serving {self.promotion or 'nothing'}"


class Prediction(models.Model):
    """One review a person classified, with the answer and the model that gave it. Its text is emptied
    after ``PREDICTION_TEXT_RETENTION_DAYS`` (``services.storage``), unless it is feedback staff read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="predictions")
    text = models.TextField()
    label = models.CharField(max_length=16)
    probability = models.FloatField(help_text="The model's confidence in the label, 0.5 to 1.")
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL)
    model_name = models.CharField(max_length=200)
    runtime = models.CharField(max_length=16, blank=True, help_text="What computed the answer: pytorch, onnx-int8...")
    # What the model monitor reads (selectors.monitor), kept apart from the text, which retention empties
    words = models.PositiveIntegerField(null=True, blank=True, help_text="The review's length in words.")
    model_ms = models.FloatField(
        null=True, blank=True, help_text="Milliseconds the model took for this review (a batch's time shared)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.probability:.2f}): {self.text[:40]}"


class ServingFailure(models.Model):
    """A classification the served model could not answer (it failed, or none was served): the monitor's
    error figures. Only the kind and the runtime are kept, never the review."""

    class Kind(models.TextChoices):
        MODEL_FAILED = "model_failed", "The model failed"
        NO_MODEL = "no_model", "No model was served"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    runtime = models.CharField(max_length=16, blank=True)
    reviews = models.PositiveIntegerField(default=1, help_text="Reviews the failed request held.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.reviews} reviews, {self.created_at:%Y-%m-%d %H:%M})"


class Feedback(models.Model):
    """A person saying one of their answers was wrong, and what is right. Staff accept or reject it; the
    accepted ones are the *corrections set* (``selectors.corrections_set``) that the next runs can train
    on and are scored on."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for staff"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    LABELS = ("negative", "positive")  # a label's index is its class: 0 negative, 1 positive

    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="feedback")
    correct_label = models.CharField(max_length=16, choices=[(label, label) for label in LABELS])
    comment = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.prediction_id} should be {self.correct_label} ({self.status})"


class CsvClassification(BackgroundJob):
    """A CSV of reviews classified by the worker; the result is the same CSV plus label and probability.

    The worker classifies it a slice at a time (``services.classify``): each finished slice is a part file
    listed in ``parts``, so a job whose worker died resumes after its last part, and a big file takes
    turns with other people's. Like a run, it is held through a lease (``worker``, ``heartbeat_at``).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="csv_jobs")
    filename = models.CharField(max_length=255)
    upload = models.FileField(upload_to="uploads/%Y/%m/")
    result = models.FileField(upload_to="results/%Y/%m/", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    parts = models.JSONField(default=list, blank=True, help_text='Classified slices: [{"file": name, "rows": n}].')
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    faults = models.PositiveIntegerField(default=0, help_text="Times its worker was lost while classifying it.")
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL)
    model_name = models.CharField(max_length=200, blank=True)
    runtime = models.CharField(max_length=16, blank=True, help_text="What computed the answers: pytorch, onnx-int8...")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stored_bytes = models.PositiveBigIntegerField(default=0, help_text="Its files on disk: the upload and the result.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def status_display(self) -> str:
        if self.status == self.Status.QUEUED and self.done_rows and not self.waiting_for_broker:
            return "Running (taking turns with other files)"
        return super().status_display

    @property
    def progress_percent(self) -> float:
        return round(100.0 * self.done_rows / self.total_rows, 1) if self.total_rows else 0.0


class ApiToken(models.Model):
    """A key for the JSON API. Only its SHA-256 is stored: the key itself is shown once, when created.

    Its ``scope`` is what it may do: classify (and read its owner's answers and files), or, for a key a
    member of staff created as such, the staff operations too (runs, serving). A key never creates or
    revokes keys: that takes the signed-in person (``services.api_tokens``)."""

    class Scope(models.TextChoices):
        CLASSIFY = "classify", "Classify (your reviews, files and answers)"
        STAFF = "staff", "Staff operations too (runs, serving)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.CLASSIFY)
    name = models.CharField(max_length=100, blank=True, help_text="What the key is for, to recognise it later.")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, blank=True, help_text="The key's first characters, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from then on; empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} · {self.name or 'API key'} ({self.created_at:%Y-%m-%d})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class LabelledDataset(models.Model):
    """Labelled reviews staff uploaded (CSV or JSON lines) to train on, alone or added to IMDb.

    The checked reviews are saved as a folder of ``train.parquet`` and ``test.parquet`` (a fixed part of
    the reviews, chosen by a hash of each text, is kept for testing), which is what a run's ``dataset`` or
    ``added_data`` setting names; ``stats`` is what the preview page shows."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=500, blank=True)
    filename = models.CharField(max_length=255, help_text="The uploaded file's name.")
    folder = models.CharField(max_length=500, help_text="Where train.parquet and test.parquet are saved.")
    rows = models.PositiveIntegerField(default=0, help_text="Reviews kept, after dropping exact duplicates.")
    stats = models.JSONField(default=dict, blank=True, help_text="Size, balance, lengths, overlap with IMDb test.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    stored_bytes = models.PositiveBigIntegerField(default=0, help_text="Its folder on disk.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.rows:,} reviews)"


class WorkerHost(models.Model):
    """A training worker's hardware, as it said when it started: what the launch form's estimate is for."""

    hostname = models.CharField(max_length=200, unique=True)
    hardware = models.JSONField(default=dict, help_text="ml.hardware.machine_profile(): device, memory, cores, disk.")
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return self.hostname


class IdempotentRequest(models.Model):
    """An API request sent with an ``Idempotency-Key`` header that created something (a run, a CSV job).

    A client that did not hear the answer (a timeout, a dropped connection) sends the same request with
    the same key again and gets the first answer, about the same object, instead of a second run. The key
    is one per user; the fingerprint of the request tells a retry from a different request reusing a key.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=50, help_text="Which endpoint: e.g. runs.launch, csv.upload.")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    object_id = models.PositiveBigIntegerField(null=True, help_text="The run or CSV job the request created.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_request_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.operation} {self.key!r} of {self.user_id}"


class AnalysisJob(BackgroundJob):
    """Heavy reading a worker does, never a web request: an explanation (up to 41 readings of a review by
    the model that answered it), the promote page's evidence (up to ``REPLAY_PREDICTIONS`` reviews and the
    held-out corrections read by two models), the behavioural checks run again. The page that asks shows
    the job's progress and fills in when it is done (``services.analysis``).

    Jobs asking the same (``key``: what the result depends on) share one; the result is kept here, the
    database being the source of truth, until ``ANALYSIS_KEEP_HOURS`` after it ended. Like a CSV job it is
    held through a lease (``worker``, ``heartbeat_at``) and handed back by the sweep when its worker dies.
    """

    class Kind(models.TextChoices):
        EXPLANATION = "explanation", "Explanation of an answer"
        EVIDENCE = "evidence", "Evidence for a promotion"
        BEHAVIOUR = "behaviour", "Behavioural checks"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=200, db_index=True, help_text="What the result depends on; equal keys share.")
    params = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    faults = models.PositiveIntegerField(default=0, help_text="Times its worker was lost while it ran.")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def progress_percent(self) -> float:
        return round(100.0 * self.done / self.total, 1) if self.total else 0.0
