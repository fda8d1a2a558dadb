"""Staff only: training runs listed, followed, launched (any setting of the launch form, checked by the
form itself, so the messages are the page's), cancelled, resumed and promoted to serving."""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import StrictBool, StrictFloat, TypeAdapter
from pydantic import ValidationError as ValueRefused

from ml.config import DISTILLATION_FIELDS, config_fields
from ml.presets import PRESETS
from sentiment.api_v1.auth import caller, key_or_session
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.fields import Filter, Moment, Reason, WholeNumber, text
from sentiment.api_v1.idempotency import KEY_HEADER, body_fingerprint, created_once
from sentiment.api_v1.pages import Pages
from sentiment.api_v1.schemas import Input, answers
from sentiment.forms import TrainingLaunchForm
from sentiment.models import TrainingRun
from sentiment.selectors import evidence
from sentiment.selectors.runs import training_run_progress, training_run_resumable
from sentiment.selectors.serving import served_model
from sentiment.services import launch
from sentiment.services.distillation import training_run_distil
from sentiment.services.promotions import training_run_promote
from sentiment.services.runs import training_run_cancel, training_run_resume

router = Router(tags=["runs"], auth=key_or_session(staff=True))
RunStatus = Literal["queued", "running", "interrupted", "succeeded", "failed", "cancelled"]
FORM_ONLY = {"preset", "promote_when_done", "data_folder"}  # the form's fields that are not config settings


class RunOut(Schema):
    id: int
    preset: str
    base_model: str
    status: RunStatus
    status_display: str
    percent: float = Field(description="Progress, 0 to 100.")
    test_accuracy: float | None
    served: bool = Field(description="Whether this run's model answers users now.")
    created_by: str | None
    launched_from: str = Field(description="admin, api, command, ...")
    promote_when_done: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_base_model(run) -> str:
        return run.config.get("base_model", "")

    @staticmethod
    def resolve_percent(run) -> float:
        return run.progress_percent

    @staticmethod
    def resolve_created_by(run) -> str | None:
        return run.created_by.username if run.created_by else None


class RunDetailOut(RunOut):
    config: dict[str, Any] = Field(description="Every setting the run trains with (ml/config.py).")
    progress: dict[str, Any] = Field(description="What the run page draws: step, epoch, loss, ETA, curves, log tail.")
    metrics: dict[str, Any] = Field(description="Test scores, calibration, behavioural and serving checks, timings.")
    estimate: dict[str, Any] = Field(description="The time and peak memory expected when it was launched.")
    error: str
    resumable: bool = Field(description="A failed run with a complete checkpoint: POST .../resume goes on from it.")
    notice: str | None = Field(description="Set while the run waits for the worker's message broker.")

    @staticmethod
    def resolve_metrics(run) -> dict[str, Any]:
        return run.results.to_json()  # the record's JSON, as stored (ml.results)

    @staticmethod
    def resolve_notice(run) -> str | None:
        return run.BROKER_AWAY if run.waiting_for_broker else None


def _setting_type(f) -> Any:
    """The JSON type a launch setting takes (``ml.config``'s field type; its choices, when it has them); null
    or left out: the preset's value."""
    if f.metadata.get("choices"):
        kind = Literal[tuple(f.metadata["choices"])]
    elif f.type == "bool":
        kind = StrictBool
    elif f.type in ("int", "int | None"):
        kind = WholeNumber
    elif f.type in ("float", "float | None"):
        kind = StrictFloat  # a JSON number, whole or not
    else:
        kind = Annotated[str, text(max_length=1000)]
    return Annotated[kind | None, Field(description=f.metadata["help"])]


# Each setting the API takes, with the type it takes it as: the schema's and the check's one source.
SETTINGS = {
    f.name: TypeAdapter(_setting_type(f)) for f in config_fields() if f.name not in TrainingLaunchForm.RUN_DECIDES
}
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {name: adapter.json_schema() for name, adapter in SETTINGS.items()},
    "additionalProperties": False,
}
# a student takes the launch settings but its model and its data, which are its teacher's (the run distilled), and
# how it learns from its teacher
TEACHERS = {"base_model", "dataset", "train_on_corrections"}
STUDENT_SETTINGS = {
    **{name: adapter for name, adapter in SETTINGS.items() if name not in TEACHERS},
    **{name: TypeAdapter(_setting_type(f)) for f in config_fields() if (name := f.name) in DISTILLATION_FIELDS[1:]},
}
STUDENT_SCHEMA = {
    **SETTINGS_SCHEMA,
    "properties": {name: adapter.json_schema() for name, adapter in STUDENT_SETTINGS.items()},
}


class LaunchIn(Input):
    preset: Literal[tuple(PRESETS)] = Field(examples=["smoke"], description="The starting recipe.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Any setting of the launch form, by name, over the preset's: e.g. num_train_epochs, "
        "learning_rate, dataset ('imdb', 'demo', or an uploaded set's 'set:<id>' / 'set:<id>+imdb'). The "
        "launch form checks the values (ranges, settings that go together): its messages come under "
        "config.<name>.",
        examples=[{"num_train_epochs": 1, "learning_rate": 3e-5}],
        json_schema_extra=SETTINGS_SCHEMA,
    )
    data_folder: Annotated[str, text(max_length=1000)] = Field(
        "", description="Instead of `dataset`: a folder the worker can read."
    )
    promote_when_done: bool = Field(False, description="Serve the model as soon as the run succeeds.")


class DistilIn(Input):
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Any setting over the student recipe (ml/presets.py STUDENT) and the teacher's own, but the "
        "model and the data, which are the teacher's: e.g. keep_layers, distillation_temperature, "
        "distillation_weight, max_train_examples. The settings' ranges and the settings that go together are "
        "judged as a launch's are: a refusal (400) comes under config.<name>.",
        examples=[{"distillation_temperature": 3.0, "max_train_examples": 5000}],
        json_schema_extra=STUDENT_SCHEMA,
    )
    promote_when_done: bool = Field(False, description="Serve the student as soon as it succeeds.")


class ReasonIn(Input):
    reason: Reason = Field(examples=["Better on negation, same accuracy."])


class RunFilters(Schema):
    status: RunStatus | None = None
    preset: Filter | None = None
    launched_from: Filter | None = Field(None, description="admin, api, command, ...")
    since: Moment | None = Field(None, description="Created at or after (RFC 3339, e.g. 2026-01-31T18:00:00Z).")
    until: Moment | None = Field(None, description="Created before (RFC 3339).")


def with_served_flag(runs):
    served = served_model()
    flag = Q(pk=served.run.pk) if served else Q(pk__in=[])
    return runs.annotate(served=ExpressionWrapper(flag, output_field=BooleanField()))


def _run(run_id: int) -> TrainingRun:
    return get_object_or_404(with_served_flag(TrainingRun.objects.select_related("created_by")), pk=run_id)


def _detailed(run: TrainingRun) -> TrainingRun:
    """The run with what its detail shows beside its columns."""
    run.progress = training_run_progress(run=run)
    run.resumable = training_run_resumable(run=run)
    return run


@router.get("/runs", response=answers({200: list[RunOut]}, 403), summary="Training runs, newest first")
@paginate(Pages)
def run_list(request, filters: Query[RunFilters]):
    runs = with_served_flag(TrainingRun.objects.select_related("created_by"))
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.preset:
        runs = runs.filter(preset=filters.preset)
    if filters.launched_from:
        runs = runs.filter(launched_from=filters.launched_from)
    if filters.since:
        runs = runs.filter(created_at__gte=filters.since)
    if filters.until:
        runs = runs.filter(created_at__lt=filters.until)
    return runs


@router.get("/runs/{run_id}", response=answers({200: RunDetailOut}, 403, 404), summary="One run, live")
def run_detail(request, run_id: int):
    return _detailed(_run(run_id))


def launch_form(body: LaunchIn) -> TrainingLaunchForm:
    """The launch form filled from the request (JSON values as the form's text), validated by the form."""
    data = {"preset": body.preset, "data_folder": body.data_folder}
    if body.promote_when_done:
        data["promote_when_done"] = "on"
    for name, value in body.config.items():
        if name in TrainingLaunchForm.RUN_DECIDES:
            raise ApiError("invalid", f"{name} is set by the run itself.", fields={f"config.{name}": "not settable"})
        if name not in SETTINGS:
            raise ApiError("invalid", f"There is no setting {name!r}.", fields={f"config.{name}": "unknown setting"})
        try:
            SETTINGS[name].validate_python(value, strict=True)
        except ValueRefused as exc:
            message = exc.errors()[0]["msg"]
            raise ApiError("invalid", f"{name}: {message}.", fields={f"config.{name}": message}) from None
        data[name] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    form = TrainingLaunchForm(data)
    if not form.is_valid():
        fields = {
            (name if name in FORM_ONLY else f"config.{name}" if name != "__all__" else "config"): " ".join(messages)
            for name, messages in form.errors.items()
        }
        listed = " ".join(f"{name}: {message}" for name, message in fields.items())
        raise ApiError("invalid", f"The settings are not valid. {listed}", fields=fields)
    return form


@router.post("/runs", response=answers({201: RunDetailOut}, 403, 409, 413, 415, 429), summary="Launch a run")
def run_launch(request, response: HttpResponse, body: LaunchIn, idempotency_key: str | None = KEY_HEADER):
    """A preset plus any setting of the launch form; refused with the form's own messages, each under its
    field (``config.<name>``). With an ``Idempotency-Key``, sending it again launches nothing new."""
    form = launch_form(body)
    return created_once(
        request, response, idempotency_key,
        operation="runs.launch",
        fingerprint=lambda: body_fingerprint(body.dict()),
        create=lambda: launch.run_launch(user=caller(request), form=form, launched_from="api"),
        load=lambda run_id: _detailed(_run(run_id)),
    )  # fmt: skip


@router.post("/runs/{run_id}/cancel", response=answers({200: RunDetailOut}, 403, 404, 409), summary="Cancel a run")
def run_cancel(request, run_id: int):
    """A queued run ends at once; a running one is asked to stop and ends within seconds."""
    run = _run(run_id)
    if not run.is_active:
        raise ApiError("conflict", f"{run} has already ended ({run.get_status_display().lower()}).")
    training_run_cancel(run=run)
    return _detailed(_run(run_id))


@router.post("/runs/{run_id}/resume", response=answers({200: RunDetailOut}, 403, 404, 409), summary="Resume a run")
def run_resume(request, run_id: int):
    """Queue a failed run again, from its last complete checkpoint (once what broke it is fixed)."""
    run = _run(run_id)
    try:
        training_run_resume(run=run)
    except ValidationError as exc:
        raise ApiError("conflict", " ".join(exc.messages)) from None
    return _detailed(_run(run_id))


def serve(request, run: TrainingRun, reason: str):
    """Promote or restore ``run`` with the evidence the promote page would record; what cannot be served is
    a conflict, a missing or overlong reason is invalid."""
    if run.status != TrainingRun.Status.SUCCEEDED or not run.model_dir:
        raise ApiError("conflict", f"{run} has no finished model to serve (status: {run.get_status_display()}).")
    served = served_model()
    if served is not None and served.run.pk == run.pk:
        raise ApiError("conflict", f"{run} is already served.")
    try:
        return training_run_promote(
            run=run,
            user=caller(request),
            reason=reason,
            evidence=evidence.promotion_evidence(run=run, replay=evidence.CACHED_ONLY),
        )
    except ValidationError as exc:
        message = " ".join(exc.messages)
        raise ApiError("invalid", message, fields={"reason": message} if "reason" in message else {}) from None


@router.post(
    "/runs/{run_id}/promote", response=answers({200: RunDetailOut}, 403, 404, 409), summary="Serve a run's model"
)
def run_promote(request, run_id: int, body: ReasonIn):
    """Every web process answers with this run's model from its next request on; the promotion records who,
    why and the evidence (test scores, behavioural checks) in the serving history. 409 unless the run
    succeeded and is not already served."""
    serve(request, _run(run_id), body.reason)
    return _detailed(_run(run_id))


def student_overrides(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a distil request gives, each checked against its type (``STUDENT_SETTINGS``)."""
    for name, value in config.items():
        if name not in STUDENT_SETTINGS:
            why = (
                "the teacher's: a student learns from its model and its data" if name in TEACHERS
                else "set by the run itself" if name in TrainingLaunchForm.RUN_DECIDES
                else "unknown setting"
            )  # fmt: skip
            raise ApiError("invalid", f"{name}: {why}.", fields={f"config.{name}": why})
        try:
            STUDENT_SETTINGS[name].validate_python(value, strict=True)
        except ValueRefused as exc:
            message = exc.errors()[0]["msg"]
            raise ApiError("invalid", f"{name}: {message}.", fields={f"config.{name}": message}) from None
    return dict(config)


@router.post(
    "/runs/{run_id}/distil",
    response=answers({201: RunDetailOut}, 403, 404, 409, 415, 429),
    summary="Distil a run into a faster student",
)
def run_distil(request, response: HttpResponse, run_id: int, body: DistilIn, idempotency_key: str | None = KEY_HEADER):
    """A new run, the **student**: the teacher's weights with fewer layers (about twice as fast to answer), trained
    on the teacher's own answers beside the true labels. 409 unless the teacher succeeded. With an
    ``Idempotency-Key``, sending it again queues nothing new."""
    teacher = _run(run_id)
    if teacher.status != TrainingRun.Status.SUCCEEDED or not teacher.model_dir:
        raise ApiError("conflict", f"{teacher} has no finished model to learn from ({teacher.get_status_display()}).")
    overrides = student_overrides(body.config)

    def create():
        try:
            return training_run_distil(
                teacher=teacher, user=caller(request), overrides=overrides, launched_from="api",
                promote_when_done=body.promote_when_done,
            )  # fmt: skip
        except ValidationError as exc:
            fields = {
                f"config.{name}" if name != "__all__" else "config": " ".join(messages)
                for name, messages in getattr(exc, "message_dict", {}).items()
            }
            raise ApiError("invalid", " ".join(exc.messages), fields=fields) from None

    return created_once(
        request, response, idempotency_key,
        operation="runs.distil",
        fingerprint=lambda: body_fingerprint({**body.dict(), "teacher": run_id}),
        create=create,
        load=lambda created_id: _detailed(_run(created_id)),
    )  # fmt: skip
