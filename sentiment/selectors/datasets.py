"""Reads: labelled data sets, as the launch form offers them and the runs that read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Q, QuerySet

from sentiment.models import (
    LabelledDataset,
    TrainingRun,
)


def labelled_datasets_folder() -> Path:
    """Where uploaded labelled data sets are saved, one folder each (``services.labelled_dataset_create``)."""
    return Path(settings.MEDIA_ROOT) / "datasets"


def labelled_dataset_list() -> QuerySet[LabelledDataset]:
    """The uploaded labelled data sets, newest first."""
    return LabelledDataset.objects.select_related("uploaded_by")


@dataclass(frozen=True)
class DataChoice:
    """One way to train on an uploaded data set, as the launch form offers it."""

    key: str  # stable: "set:<id>" (alone) or "set:<id>+imdb" (added to IMDb)
    label: str  # what the form shows
    dataset: str  # the run's ``dataset``
    added_data: str  # the run's ``added_data`` ("" for none)


def labelled_dataset_choices() -> list[DataChoice]:
    """Two choices per uploaded data set, newest first: trained on alone (its own test part is the run's test
    set), or added to IMDb (IMDb's test set stays the run's test set; the set's test part is scored beside it)."""
    choices = []
    for data in LabelledDataset.objects.only("pk", "name", "rows", "folder", "stats"):
        split = (data.stats or {}).get("split") or {}
        added = f"{split['train']:,} training reviews" if "train" in split else f"{data.rows:,} reviews"
        choices += [
            DataChoice(f"set:{data.pk}", f"{data.name}: your {data.rows:,} reviews alone", data.folder, ""),
            DataChoice(f"set:{data.pk}+imdb", f"IMDb + {data.name}: your {added} added", "imdb", data.folder),
        ]
    return choices


def labelled_dataset_runs(*, dataset: LabelledDataset) -> QuerySet[TrainingRun]:
    """The runs that trained on a data set, alone or added to another, newest first."""
    folder = dataset.folder
    return TrainingRun.objects.filter(Q(config__dataset=folder) | Q(config__added_data=folder)).order_by("-pk")
