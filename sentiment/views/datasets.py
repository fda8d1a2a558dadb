"""Staff pages of the labelled data sets (``sentiment.permissions``): the list with the upload form, each
set's preview (what it holds, before anyone trains on it) and its deletion. Thin, like ``run_views``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from ml.data.stats import histogram_bars
from sentiment.forms import LabelledDatasetForm
from sentiment.models import LabelledDataset
from sentiment.permissions import TrainingStaffRequiredMixin
from sentiment.selectors.datasets import labelled_dataset_list, labelled_dataset_runs
from sentiment.services.datasets import labelled_dataset_create, labelled_dataset_delete

LAUNCH_URL = "admin:sentiment_trainingrun_launch"


class DatasetListView(TrainingStaffRequiredMixin, View):
    def get(self, request):
        return self._page(request, LabelledDatasetForm())

    def post(self, request):
        form = LabelledDatasetForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                dataset = labelled_dataset_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    upload=form.cleaned_data["file"],
                )
                messages.success(request, f"'{dataset.name}' is saved: {dataset.rows:,} reviews.")
                return redirect("sentiment:dataset_detail", dataset_id=dataset.pk)
            except ValidationError as exc:
                form.add_error("file", exc)
        return self._page(request, form)

    @staticmethod
    def _page(request, form):
        return render(request, "sentiment/dataset_list.html", {"form": form, "datasets": labelled_dataset_list()})


class DatasetDetailView(TrainingStaffRequiredMixin, View):
    """The preview: size, balance, lengths, the saved split, duplicates, the overlap with IMDb's test set."""

    def get(self, request, dataset_id: int):
        dataset = get_object_or_404(LabelledDataset, pk=dataset_id)
        stats = dataset.stats or {}
        launch = reverse(LAUNCH_URL)
        return render(
            request,
            "sentiment/dataset_detail.html",
            {
                "dataset": dataset,
                "stats": stats,
                "words": stats.get("words") or {},
                "bars": histogram_bars(stats.get("words") or {}),
                "runs": labelled_dataset_runs(dataset=dataset)[:20],
                "train_alone": f"{launch}?data=set:{dataset.pk}",
                "train_with_imdb": f"{launch}?data=set:{dataset.pk}%2Bimdb",  # '+' in a query string is a space
            },
        )


class DatasetDeleteView(TrainingStaffRequiredMixin, View):
    def post(self, request, dataset_id: int):
        dataset = get_object_or_404(LabelledDataset, pk=dataset_id)
        try:
            labelled_dataset_delete(dataset=dataset)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("sentiment:dataset_detail", dataset_id=dataset_id)
        messages.success(request, f"'{dataset.name}' is deleted.")
        return redirect("sentiment:dataset_list")
