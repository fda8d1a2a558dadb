"""Staff pages (``sentiment.permissions``) of serving: runs compared, the promote page with its evidence,
the serving history (the audit trail) and the feedback queue."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from sentiment.forms import PromoteForm
from sentiment.models import Feedback, Promotion, TrainingRun
from sentiment.permissions import TrainingStaffRequiredMixin
from sentiment.selectors import comparison, evidence
from sentiment.selectors.feedback import corrections_set, feedback_list
from sentiment.selectors.serving import served_model, served_previous_run
from sentiment.services.feedback import feedback_review
from sentiment.services.promotions import training_run_promote


class RunCompareView(TrainingStaffRequiredMixin, View):
    """Two or more runs side by side: ``?run=3&run=5`` (the admin's "Compare" action sends here)."""

    def get(self, request):
        ids = []
        for value in request.GET.getlist("run"):
            if value.isascii() and value.isdigit() and int(value) not in ids:
                ids.append(int(value))
        runs = {run.pk: run for run in TrainingRun.objects.filter(pk__in=ids[: comparison.MAX_COMPARED])}
        chosen = [runs[i] for i in ids if i in runs]
        if len(chosen) < 2:
            messages.error(request, "Choose two or more runs to compare (tick them in the list of runs).")
            return redirect("admin:sentiment_trainingrun_changelist")
        if len(ids) > comparison.MAX_COMPARED:
            messages.warning(request, f"Only the first {comparison.MAX_COMPARED} runs are compared.")
        table = comparison.training_runs_comparison(runs=chosen)
        return render(request, "sentiment/run_compare.html", {"table": table, "curves": table["curves"]})


class RunPromoteView(TrainingStaffRequiredMixin, View):
    """The promote page: the evidence (behavioural regressions first, then the replay and the figures)
    and a reason to give. Restoring an earlier model from the serving history posts here too."""

    def get(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        shown = evidence.promotion_evidence(run=run, user=request.user)
        return self.page(request, run, PromoteForm(regressions=self.to_confirm(run, shown)), shown)

    def post(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        kept = evidence.evidence_kept(token=request.POST.get("evidence", ""), run=run)
        shown = kept or evidence.promotion_evidence(run=run, replay=evidence.CACHED_ONLY)
        form = PromoteForm(request.POST, regressions=self.to_confirm(run, shown))
        if form.is_valid():
            try:
                promotion = training_run_promote(
                    run=run, user=request.user, reason=form.cleaned_data["reason"], evidence=shown
                )
                messages.success(request, f"{run} is now served ({promotion.get_action_display().lower()}).")
                return redirect(form.cleaned_data["next"] or reverse("sentiment:serving_history"))
            except ValidationError as exc:
                form.add_error(None, exc)
        return self.page(request, run, form, evidence.promotion_evidence(run=run, user=request.user))

    @staticmethod
    def to_confirm(run: TrainingRun, shown: dict) -> list[str]:
        """The regressions a person must tick to serve this model: those of a model never served yet. A
        restore (a roll-back) goes back to a model users already had, and is not held up by them."""
        return [] if run.promotions.exists() else evidence.regression_titles(shown)

    def page(self, request, run: TrainingRun, form: PromoteForm, shown: dict):
        context = {
            "run": run,
            "form": form,
            "evidence": shown,
            "regressions": self.to_confirm(run, shown),
            "evidence_token": evidence.evidence_keep(shown),  # what the promotion records if confirmed
        }
        return render(request, "sentiment/run_promote.html", context)


class FeedbackQueueView(TrainingStaffRequiredMixin, View):
    """People's corrections, waiting ones first: staff accept (into the corrections set) or reject them."""

    def get(self, request):
        status = request.GET.get("status", Feedback.Status.PENDING)
        status = status if status in Feedback.Status.values else ""
        page = Paginator(feedback_list(status=status), 50).get_page(request.GET.get("page"))
        counts = dict(Feedback.objects.order_by().values_list("status").annotate(n=Count("id")))
        return render(
            request,
            "sentiment/feedback_queue.html",
            {
                "page": page,
                "status": status,
                "statuses": [(value, label, counts.get(value, 0)) for value, label in Feedback.Status.choices],
                "corrections": corrections_set(),
            },
        )

    def post(self, request):
        ids = [int(i) for i in request.POST.getlist("feedback") if i.isascii() and i.isdigit()]
        decision = request.POST.get("decision", "")
        try:
            decided = feedback_review(feedback_ids=ids, status=decision, user=request.user)
            messages.success(request, f"{decided} item{'s' if decided != 1 else ''} {decision}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(reverse("sentiment:feedback_queue") + "?" + request.GET.urlencode())


class ServingHistoryView(TrainingStaffRequiredMixin, View):
    """The audit trail: every promotion and restore, newest first, each with a one-click restore."""

    def get(self, request):
        promotions = Promotion.objects.select_related("run", "promoted_by", "replaced")
        page = Paginator(promotions, 25).get_page(request.GET.get("page"))
        served = served_model()
        previous = served_previous_run()
        return render(
            request,
            "sentiment/serving_history.html",
            {"page": page, "served": served, "previous": previous},
        )
