"""Staff pages (``sentiment.permissions``): a run live, its mistakes and behaviour, runs compared, the
promote page with its evidence, the serving history (the audit trail) and the feedback queue. Thin, like
``views``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from ml.scored_reviews import CELLS, scored_reviews_agree, scored_reviews_cell
from sentiment import comparison, estimates, evidence, selectors, services, views
from sentiment.forms import PromoteForm
from sentiment.models import Feedback, Promotion, TrainingRun
from sentiment.permissions import TrainingStaffRequiredMixin
from sentiment.services.checks import behaviour_job_key
from sentiment.templatetags.figures import readable_log, run_figures

MISTAKES_PAGE_SIZE = 20
CELL_NAMES = {
    "fp": ("False positives", "negative reviews the model called positive"),
    "fn": ("False negatives", "positive reviews the model called negative"),
    "tp": ("True positives", "positive reviews called positive"),
    "tn": ("True negatives", "negative reviews called negative"),
}


def run_progress_shown(run: TrainingRun) -> dict:
    """What the run page draws and polls: the run's progress, with its figures as people read them and its
    log as a terminal shows it (the whole tail the run kept, less its progress bars)."""
    progress = selectors.training_run_progress(run=run)
    shown = run_figures(progress, config=run.config)
    return {**progress, "log_tail": readable_log(run.log_tail), "shown": shown}


class RunDetailView(TrainingStaffRequiredMixin, View):
    def get(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        return render(
            request,
            "sentiment/run_detail.html",
            {
                "run": run,
                "progress": run_progress_shown(run),
                "served": selectors.served_model(),
                "serving_check": selectors.training_run_serving_check(run=run),
                "behaviour": (run.metrics or {}).get("behaviour"),
                "model_size": (run.metrics or {}).get("model"),
                "corrections": evidence.training_run_corrections(run=run, user=request.user),
                "behaviour_job": views.job_shown(selectors.analysis_job_active(key=behaviour_job_key(run))),
                "resumable": selectors.training_run_resumable(run=run),
                "estimate": estimates.training_run_estimate_check(run=run),
            },
        )


class RunProgressView(TrainingStaffRequiredMixin, View):
    def get(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        return JsonResponse(run_progress_shown(run))


class RunMistakesView(TrainingStaffRequiredMixin, View):
    """The test reviews of one cell of the confusion matrix, most confidently wrong first, searchable."""

    def get(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        cell = request.GET.get("cell", "fp")
        if cell not in CELLS:
            raise Http404("No such cell: fp, fn, tp or tn.")
        query = request.GET.get("q", "").strip()[:200]
        least_first = request.GET.get("order") == "least"

        def cell_page(number: int):
            return scored_reviews_cell(
                run.output_dir,
                cell=cell,
                query=query,
                least_confident_first=least_first,
                offset=(number - 1) * MISTAKES_PAGE_SIZE,
                limit=MISTAKES_PAGE_SIZE,
            )

        test = (run.metrics or {}).get("test") or {}
        found, pages = cell_page(_page_number(request)), None
        agree = scored_reviews_agree(run.output_dir, confusion_matrix=test.get("confusion_matrix"))
        if agree is False:
            found = None
        if found is not None:
            pages = Paginator(range(found.total), MISTAKES_PAGE_SIZE).get_page(_page_number(request))
            if pages.number != _page_number(request):  # past the end: the last page, as the pager says
                found = cell_page(pages.number)
        return render(
            request,
            "sentiment/run_mistakes.html",
            {
                "run": run,
                "cell": cell,
                "cells": [(c, *CELL_NAMES[c]) for c in ("fp", "fn", "tp", "tn")],
                "cell_title": CELL_NAMES[cell],
                "query": query,
                "least_first": least_first,
                "found": found,
                "pages": pages,
                "test": test,
                "answers_disagree": agree is False,
            },
        )


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")[:9]))
    except ValueError:
        return 1


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


class RunBehaviourView(TrainingStaffRequiredMixin, View):
    """Run the behavioural checks again, on a worker (the run page's button)."""

    http_method_names = ["post"]

    def post(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        try:
            services.training_run_behaviour_request(run=run, user=request.user)
            messages.success(request, "The behavioural checks run again on a worker: the page shows them when done.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(reverse("sentiment:run_detail", args=[run.pk]) + "#behaviour-card")


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
                promotion = services.training_run_promote(
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
        page = Paginator(selectors.feedback_list(status=status), 50).get_page(request.GET.get("page"))
        counts = dict(Feedback.objects.order_by().values_list("status").annotate(n=Count("id")))
        return render(
            request,
            "sentiment/feedback_queue.html",
            {
                "page": page,
                "status": status,
                "statuses": [(value, label, counts.get(value, 0)) for value, label in Feedback.Status.choices],
                "corrections": selectors.corrections_set(),
            },
        )

    def post(self, request):
        ids = [int(i) for i in request.POST.getlist("feedback") if i.isascii() and i.isdigit()]
        decision = request.POST.get("decision", "")
        try:
            decided = services.feedback_review(feedback_ids=ids, status=decision, user=request.user)
            messages.success(request, f"{decided} item{'s' if decided != 1 else ''} {decision}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(reverse("sentiment:feedback_queue") + "?" + request.GET.urlencode())


class ServingHistoryView(TrainingStaffRequiredMixin, View):
    """The audit trail: every promotion and restore, newest first, each with a one-click restore."""

    def get(self, request):
        promotions = Promotion.objects.select_related("run", "promoted_by", "replaced")
        page = Paginator(promotions, 25).get_page(request.GET.get("page"))
        served = selectors.served_model()
        previous = selectors.served_previous_run()
        return render(
            request,
            "sentiment/serving_history.html",
            {"page": page, "served": served, "previous": previous},
        )


class RunActionView(TrainingStaffRequiredMixin, View):
    """A button on the run page: POST only; does one thing and goes back to the page, saying what happened."""

    http_method_names = ["post"]

    def post(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        try:
            messages.success(request, self.act(run))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("sentiment:run_detail", run_id=run.pk)

    def act(self, run: TrainingRun) -> str:
        raise NotImplementedError


class RunCancelView(RunActionView):
    def act(self, run: TrainingRun) -> str:
        services.training_run_cancel(run=run)
        return f"{run}: cancel requested."


class RunResumeView(RunActionView):
    def act(self, run: TrainingRun) -> str:
        services.training_run_resume(run=run)
        return f"{run} queued again: it goes on from its last checkpoint."
