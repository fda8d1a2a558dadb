"""Staff only: the model that answers users now, the serving history (every promotion and restore, with
who, when and why), and restoring an earlier model."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from sentiment.api_v1.auth import key_or_session
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.fields import Id, Reason
from sentiment.api_v1.pages import Pages
from sentiment.api_v1.runs import RunOut, serve, with_served_flag
from sentiment.api_v1.schemas import Input, answers
from sentiment.models import Promotion, TrainingRun
from sentiment.selectors.serving import served_model, served_previous_run, training_run_serving_runtime

router = Router(tags=["serving"], auth=key_or_session(staff=True))


class PromotionOut(Schema):
    id: int
    run: int
    action: str = Field(description="promote, or restore (a model served before)")
    reason: str
    promoted_by: str | None
    promoted_at: datetime
    replaced: int | None = Field(description="The run served before this one.")

    @staticmethod
    def resolve_run(promotion) -> int:
        return promotion.run_id

    @staticmethod
    def resolve_promoted_by(promotion) -> str | None:
        return promotion.promoted_by.username if promotion.promoted_by else None

    @staticmethod
    def resolve_replaced(promotion) -> int | None:
        return promotion.replaced_id


class ServingOut(Schema):
    run: RunOut
    promotion: PromotionOut = Field(description="The promotion (or restore) that made it the served model.")
    runtime: str = Field(description="What computes the answers: pytorch, onnx-fp32 or onnx-int8.")


class RestoreIn(Input):
    reason: Reason = Field(examples=["The new model fails on negation."])
    run: Id | None = Field(None, description="A run served before; empty: the one served before the current.")


def _serving() -> dict:
    served = served_model()
    if served is None:
        raise ApiError("no_model", "No model is being served yet: train one and promote it.")
    promotion = Promotion.objects.select_related("promoted_by").get(pk=served.promotion_id)
    run = with_served_flag(TrainingRun.objects.select_related("created_by")).get(pk=served.run.pk)
    return {"run": run, "promotion": promotion, "runtime": training_run_serving_runtime(run=run)}


@router.get("/serving", response=answers({200: ServingOut}, 403, 503), summary="The served model")
def serving(request):
    return _serving()


@router.get(
    "/serving/promotions", response=answers({200: list[PromotionOut]}, 403), summary="The serving history, newest first"
)
@paginate(Pages)
def promotion_list(request):
    return Promotion.objects.select_related("promoted_by")


@router.post("/serving/restore", response=answers({200: ServingOut}, 403, 404, 409), summary="Serve an earlier model")
def serving_restore(request, body: RestoreIn):
    """Roll back to the model served before the current one, or serve again any run that was served once;
    recorded in the history as a restore. 409 when there is nothing to restore."""
    if body.run is None:
        run = served_previous_run()
        if run is None:
            raise ApiError("conflict", "No other model was served before the current one: there is nothing to restore.")
    else:
        run = get_object_or_404(TrainingRun, pk=body.run)
        if not run.promotions.exists():
            raise ApiError("conflict", f"{run} was never served: promote it instead (POST /runs/{run.pk}/promote).")
    serve(request, run, body.reason)
    return _serving()
