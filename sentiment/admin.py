"""Admin: where staff launch runs, follow them, cancel, promote, and restore an earlier model."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from sentiment import selectors, services
from sentiment.forms import TrainingLaunchForm
from sentiment.models import ApiToken, CsvClassification, Prediction, Promotion, TrainingRun
from sentiment.permissions import can_manage_training


class TrainingStaffMixin:
    """Runs and promotions are shown to whoever may manage training, with their actions (the launch
    form, cancel, promote, restore): no per-model permission to grant."""

    def has_module_permission(self, request):
        return can_manage_training(request.user)

    def has_view_permission(self, request, obj=None):
        return can_manage_training(request.user)

    def serve_chosen_run(self, request, chosen: list[TrainingRun], *, served: str) -> None:
        """The promote and restore actions: exactly one row chosen, its run served, or the reason why not."""
        if len(chosen) != 1:
            self.message_user(request, "Choose exactly one row.", messages.ERROR)
            return
        try:
            services.training_run_promote(run=chosen[0], user=request.user)
            self.message_user(request, f"{chosen[0]} {served}.")
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)


@admin.register(TrainingRun)
class TrainingRunAdmin(TrainingStaffMixin, admin.ModelAdmin):
    list_display = ("title", "status_badge", "progress", "test_accuracy_display", "device", "created_at")
    list_display_links = None  # the title links to the live run page instead
    list_filter = ("status", "preset", "launched_from")
    actions = ("cancel_runs", "promote_run")
    readonly_fields = [f.name for f in TrainingRun._meta.fields]
    change_list_template = "admin/sentiment/trainingrun/change_list.html"

    def has_add_permission(self, request):
        return False  # runs are launched through the launch form, which validates the settings

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        launch = path("launch/", self.admin_site.admin_view(self.launch_view), name="sentiment_trainingrun_launch")
        return [launch, *super().get_urls()]

    def launch_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TrainingLaunchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            run = services.training_run_create(
                user=request.user,
                config=form.config,
                preset=form.cleaned_data["preset"],
                promote_when_done=form.cleaned_data["promote_when_done"],
            )
            run.refresh_from_db(fields=["dispatched_at"])  # sent as the transaction committed, or not
            if run.waiting_for_broker:
                messages.warning(request, f"{run}: {run.BROKER_AWAY}")
            else:
                messages.success(request, f"{run} queued.")
            return redirect("sentiment:run_detail", run_id=run.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Launch a training run",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/sentiment/trainingrun/launch.html", context)

    @admin.display(description="status")
    def status_badge(self, run):
        return format_html('<span class="status {}">{}</span>', run.status, run.get_status_display())

    @admin.display(description="progress")
    def progress(self, run):
        return format_html('<progress max="100" value="{}"></progress> {}%', run.progress_percent, run.progress_percent)

    @admin.display(description="test accuracy")
    def test_accuracy_display(self, run):
        return f"{run.test_accuracy:.4f}" if run.test_accuracy is not None else "—"

    @admin.display(description="run", ordering="-created_at")
    def title(self, run):
        return format_html('<a href="{}">{}</a>', reverse("sentiment:run_detail", args=[run.pk]), run)

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        for run in queryset.filter(status__in=TrainingRun.ACTIVE):
            services.training_run_cancel(run=run)
        self.message_user(request, "Cancel requested.")

    @admin.action(description="Promote the selected run to serving")
    def promote_run(self, request, queryset):
        self.serve_chosen_run(request, list(queryset), served="is now served")


@admin.register(Promotion)
class PromotionAdmin(TrainingStaffMixin, admin.ModelAdmin):
    list_display = ("run", "promoted_by", "promoted_at", "serving")
    actions = ("restore",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="served now")
    def serving(self, promotion):
        return promotion.pk == selectors.served_version()

    @admin.action(description="Serve this model again")
    def restore(self, request, queryset):
        self.serve_chosen_run(request, [promotion.run for promotion in queryset], served="is served again")


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "label", "probability", "model_name")
    list_filter = ("label",)
    search_fields = ("text",)

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
