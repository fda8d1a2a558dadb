"""Admin: where staff launch runs, follow them, compare and cancel them, and open the promote page (which
asks for the evidence and a reason) for a run or an earlier model."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from sentiment.forms import TrainingLaunchForm
from sentiment.models import (
    ApiToken,
    CsvClassification,
    Feedback,
    LabelledDataset,
    Prediction,
    Promotion,
    TrainingRun,
)
from sentiment.permissions import can_manage_training
from sentiment.selectors import estimates
from sentiment.selectors.serving import served_version
from sentiment.services.launch import run_launch
from sentiment.services.runs import training_run_cancel
from sentiment.templatetags.figures import figure


class TrainingStaffMixin:
    """Runs and promotions are shown to whoever may manage training, with their actions (the launch
    form, cancel, promote, restore): no per-model permission to grant."""

    def has_module_permission(self, request):
        return can_manage_training(request.user)

    def has_view_permission(self, request, obj=None):
        return can_manage_training(request.user)

    def promote_page(self, request, runs: list[TrainingRun]):
        """The promote and restore actions open the promote page (evidence, then a reason): exactly one row."""
        if len(runs) != 1:
            self.message_user(request, "Choose exactly one row.", messages.ERROR)
            return None
        return redirect("sentiment:run_promote", run_id=runs[0].pk)


@admin.register(TrainingRun)
class TrainingRunAdmin(TrainingStaffMixin, admin.ModelAdmin):
    list_display = ("title", "status_badge", "progress", "test_accuracy_display", "device", "created_at")
    list_display_links = None  # the title links to the live run page instead
    list_filter = ("status", "preset", "launched_from")
    actions = ("compare_runs", "cancel_runs", "promote_run")
    readonly_fields = [f.name for f in TrainingRun._meta.fields]
    change_list_template = "admin/sentiment/trainingrun/change_list.html"

    def has_add_permission(self, request):
        return False  # runs are launched through the launch form, which validates the settings

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        launch = path("launch/", self.admin_site.admin_view(self.launch_view), name="sentiment_trainingrun_launch")
        estimate = path(
            "launch/estimate.json",
            self.admin_site.admin_view(self.estimate_view),
            name="sentiment_trainingrun_estimate",
        )
        return [launch, estimate, *super().get_urls()]

    def launch_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TrainingLaunchForm(request.POST or None, initial={"dataset": request.GET.get("data", "")})
        if request.method == "POST" and form.is_valid():
            run = run_launch(user=request.user, form=form, launched_from="admin")
            if run.waiting_for_broker:
                messages.warning(request, f"{run}: {run.BROKER_AWAY}")
            else:
                messages.success(request, f"{run} queued.")
            return redirect("sentiment:run_detail", run_id=run.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "preset_values": form.preset_values(),
            "title": "Launch a training run",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/sentiment/trainingrun/launch.html", context)

    def estimate_view(self, request):
        """The launch form's estimate for the settings it holds now (JSON), or what is wrong with them."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TrainingLaunchForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"unavailable": "Fix the settings first: " + " ".join(form.problems())})
        return JsonResponse(estimates.run_estimate(form.config))

    @admin.display(description="status")
    def status_badge(self, run):
        return format_html('<span class="status {}">{}</span>', run.status, run.get_status_display())

    @admin.display(description="progress")
    def progress(self, run):
        return format_html('<progress max="100" value="{}"></progress> {}%', run.progress_percent, run.progress_percent)

    @admin.display(description="test accuracy")
    def test_accuracy_display(self, run):
        return figure(run.test_accuracy)

    @admin.display(description="run", ordering="-created_at")
    def title(self, run):
        return format_html('<a href="{}">{}</a>', reverse("sentiment:run_detail", args=[run.pk]), run)

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        for run in queryset.filter(status__in=TrainingRun.ACTIVE):
            training_run_cancel(run=run)
        self.message_user(request, "Cancel requested.")

    @admin.action(description="Promote the selected run to serving…")
    def promote_run(self, request, queryset):
        return self.promote_page(request, list(queryset))

    @admin.action(description="Compare the selected runs")
    def compare_runs(self, request, queryset):
        ids = sorted(queryset.values_list("pk", flat=True))
        if len(ids) < 2:
            self.message_user(request, "Choose two or more runs to compare.", messages.ERROR)
            return None
        return redirect(reverse("sentiment:run_compare") + "?" + urlencode([("run", pk) for pk in ids]))


@admin.register(Promotion)
class PromotionAdmin(TrainingStaffMixin, admin.ModelAdmin):
    list_display = ("promoted_at", "action", "run", "promoted_by", "reason", "serving")
    list_filter = ("action",)
    actions = ("restore",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="served now")
    def serving(self, promotion):
        return promotion.pk == served_version()

    @admin.action(description="Serve this model again…")
    def restore(self, request, queryset):
        return self.promote_page(request, [promotion.run for promotion in queryset])


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "label", "probability", "model_name")
    list_filter = ("label",)
    search_fields = ("text",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """Read-only here: staff decide feedback on the feedback queue page, which shows the review in full."""

    list_display = ("created_at", "prediction", "correct_label", "status", "reviewed_by")
    list_filter = ("status", "correct_label")
    search_fields = ("prediction__text", "comment")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CsvClassification)
class CsvClassificationAdmin(admin.ModelAdmin):
    list_display = ("filename", "user", "status", "done_rows", "total_rows", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff see who holds API keys and revoke one by deleting it; keys are created (and revoked) by their
    owners on the API page."""

    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("user", "name", "prefix", "key_hash", "created_at", "last_used_at", "expires_at", "revoked_at")

    def has_add_permission(self, request):
        return False


class StoringUserAdmin(UserAdmin):
    """Django's user admin, with the bytes each person's files take on disk (``storage``), largest
    first when sorted: who is near ``MAX_STORED_BYTES_PER_PERSON``."""

    list_display = (*UserAdmin.list_display, "stored")

    def has_module_permission(self, request):
        return super().has_module_permission(request) or can_manage_training(request.user)

    def has_view_permission(self, request, obj=None):  # seeing who stores what; changing stays the superuser's
        return super().has_view_permission(request, obj) or can_manage_training(request.user)

    def get_queryset(self, request):
        def total(model, owner: str):
            rows = model.objects.filter(**{owner: OuterRef("pk")}).order_by().values(owner)
            return Coalesce(Subquery(rows.annotate(n=Sum("stored_bytes")).values("n")[:1]), 0)

        queryset = super().get_queryset(request)
        return queryset.annotate(stored_bytes=total(CsvClassification, "user") + total(LabelledDataset, "uploaded_by"))

    @admin.display(description="Stored", ordering="stored_bytes")
    def stored(self, user) -> str:
        return filesizeformat(user.stored_bytes)


admin.site.unregister(User)
admin.site.register(User, StoringUserAdmin)
