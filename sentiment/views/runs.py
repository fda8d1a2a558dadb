"""Staff pages (``sentiment.permissions``) of one run: live, its mistakes and behaviour, cancel and resume."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from ml.evaluation.scored_reviews import CELLS, scored_reviews_agree, scored_reviews_cell
from sentiment.models import TrainingRun
from sentiment.permissions import TrainingStaffRequiredMixin
from sentiment.selectors import estimates, evidence
from sentiment.selectors.analysis import analysis_job_active
from sentiment.selectors.runs import training_run_progress, training_run_resumable
from sentiment.selectors.serving import served_model, training_run_serving_check
from sentiment.services.checks import behaviour_job_key, training_run_behaviour_request
from sentiment.services.distillation import training_run_distil
from sentiment.services.runs import training_run_cancel, training_run_resume
from sentiment.templatetags.figures import readable_log, run_figures
from sentiment.views.analysis import job_shown

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
    progress = training_run_progress(run=run)
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
                "served": served_model(),
                "serving_check": training_run_serving_check(run=run),
                "behaviour": run.results.behaviour,
                "out_of_domain": run.results.out_of_domain,
                "ood_tables": [
                    ("Kind of thing", run.results.out_of_domain.by_kind, "ood-by-kind"),
                    ("Way of writing", run.results.out_of_domain.by_style, "ood-by-style"),
                ],
                "model_size": run.results.model,
                "corrections": evidence.training_run_corrections(run=run, user=request.user),
                "behaviour_job": job_shown(analysis_job_active(key=behaviour_job_key(run))),
                "resumable": training_run_resumable(run=run),
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

        test = run.results.test
        found, pages = cell_page(_page_number(request)), None
        agree = scored_reviews_agree(run.output_dir, confusion_matrix=test.confusion_matrix)
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


class RunBehaviourView(TrainingStaffRequiredMixin, View):
    """Run the behavioural checks again, on a worker (the run page's button)."""

    http_method_names = ["post"]

    def post(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        try:
            training_run_behaviour_request(run=run, user=request.user)
            messages.success(request, "The behavioural checks run again on a worker: the page shows them when done.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(reverse("sentiment:run_detail", args=[run.pk]) + "#behaviour-card")


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
        training_run_cancel(run=run)
        return f"{run}: cancel requested."


class RunResumeView(RunActionView):
    def act(self, run: TrainingRun) -> str:
        training_run_resume(run=run)
        return f"{run} queued again: it goes on from its last checkpoint."


class RunDistilView(TrainingStaffRequiredMixin, View):
    """Queue a student of this run (``sentiment.services.distillation``) and show its page."""

    http_method_names = ["post"]

    def post(self, request, run_id: int):
        teacher = get_object_or_404(TrainingRun, pk=run_id)
        try:
            student = training_run_distil(teacher=teacher, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("sentiment:run_detail", run_id=teacher.pk)
        layers = student.config["keep_layers"]
        messages.success(request, f"{student} queued: a student of {teacher} with {layers} layers.")
        return redirect("sentiment:run_detail", run_id=student.pk)
