"""Labelled data sets staff upload to train on: checked, described, saved as a folder a run can read.

A set is all or nothing: its row exists only with its folder (``<MEDIA_ROOT>/datasets/<id>-<random>/``,
holding ``train.parquet`` and ``test.parquet``), and a refused or failed upload leaves neither. The files
are written into a folder of their own first and renamed into place in the transaction that stores the
row, so a run never reads half a set, and whatever fails on the way removes what was written.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver

from ml.data.labelled_sets import TEST_PERCENT, in_test_part, labelled_split_write
from ml.data.stats import dataset_stats, imdb_overlap
from sentiment.files.dataset_files import labelled_file_read
from sentiment.models import LabelledDataset, TrainingRun
from sentiment.selectors.datasets import labelled_datasets_folder
from sentiment.services.storage import folder_bytes, storage_quota_check

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = LabelledDataset._meta.get_field("name").max_length
MAX_DESCRIPTION_CHARS = LabelledDataset._meta.get_field("description").max_length


def labelled_dataset_create(*, user, name: str, description: str, upload) -> LabelledDataset:
    """Check an uploaded labelled file (``sentiment.files.dataset_files``), work out its figures
    (``ml.data.stats``, the overlap with IMDb's test reviews in ``IMDB_DATA_DIR`` included), split it
    (about 20% kept for testing, by each review's text: ``ml.data.labelled_sets``) and save it.

    The cheap checks come first (name, size), then the file is read once; nothing is written before every
    check has passed.
    """
    name, description = _name_checked(name), (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationError(f"Keep the description under {MAX_DESCRIPTION_CHARS} characters.")
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file has {_size(upload.size)}; the limit is {_size(settings.MAX_UPLOAD_BYTES)}.")
    storage_quota_check(user=user, adding=upload.size)  # the saved set is smaller: compressed, duplicates dropped
    reviews = labelled_file_read(binary=upload, filename=upload.name)
    in_test = [in_test_part(digest) for digest in reviews.digests]
    tested = sum(in_test)
    if not tested or tested == len(in_test):
        part = "test" if not tested else "training"
        raise ValidationError(
            f"None of the {len(in_test):,} reviews fell into the {part} part (about {TEST_PERCENT}% of the reviews are "
            "kept for testing, chosen by their text); add more reviews and upload the file again."
        )
    overlap = imdb_overlap(reviews.digests, in_test, imdb_dir=settings.IMDB_DATA_DIR)
    stats = dataset_stats(
        texts=reviews.texts, labels=reviews.labels, in_test=in_test, duplicates=reviews.duplicates, overlap=overlap
    )
    stats["format"] = reviews.format
    return _saved(
        LabelledDataset(
            name=name,
            description=description,
            filename=(upload.name or "")[:255],
            rows=len(reviews.texts),
            stats=stats,
            uploaded_by=user,
        ),
        texts=reviews.texts,
        labels=reviews.labels,
        in_test=in_test,
    )


def labelled_dataset_delete(*, dataset: LabelledDataset) -> None:
    """Delete a set and its folder, unless a run that has not ended (queued, running, or interrupted and
    waiting to resume) reads it: that run would fail when it reached the missing folder.

    Finished runs do not stop it: their models, scores and test answers are their own and stay. What they
    lose is the set itself, so such a run cannot be resumed or repeated as it was (it then fails at once,
    saying the folder is missing); the preview lists the runs that used a set before it is deleted.
    """
    folder = dataset.folder
    with transaction.atomic():
        runs = TrainingRun.objects.filter(status__in=TrainingRun.ACTIVE)
        using = runs.filter(Q(config__dataset=folder) | Q(config__added_data=folder)).values_list("pk", flat=True)
        if using:
            listed = ", ".join(f"#{pk}" for pk in using[:5])
            raise ValidationError(
                f"Run{'s' if len(using) > 1 else ''} {listed} still use{'s' if len(using) == 1 else ''} this data set; "
                "delete it once they have ended (or cancel them)."
            )
        dataset.delete()  # its folder goes with it (services.storage), once the deletion commits
    logger.info("labelled data set %s deleted", dataset.name)


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MB" if count >= 2**20 else f"{count:,} bytes"


def _name_checked(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the data set a name (it is how the launch form lists it).")
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"Keep the name under {MAX_NAME_CHARS} characters.")
    if LabelledDataset.objects.filter(name=name).exists():
        raise ValidationError(f"A data set named '{name}' already exists; choose another name.")
    return name


def _saved(dataset: LabelledDataset, *, texts: list[str], labels: list[int], in_test: list[bool]) -> LabelledDataset:
    """Write the files into a folder of their own, then store the row and rename the folder into place in one
    transaction; on any failure, remove what was written (the row rolls back with the transaction)."""
    root = labelled_datasets_folder()
    root.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    folder, saved = None, False
    try:
        labelled_split_write(incoming, texts=texts, labels=labels, in_test=in_test)
        with transaction.atomic():
            dataset.save()
            folder = root / f"{dataset.pk}-{secrets.token_hex(4)}"  # the random part: no one guesses the path
            incoming.rename(folder)
            dataset.folder, dataset.stored_bytes = str(folder), folder_bytes(folder)
            dataset.save(update_fields=["folder", "stored_bytes"])
        saved = True
    except IntegrityError:  # another upload took the name since it was checked
        raise ValidationError(f"A data set named '{dataset.name}' already exists; choose another name.") from None
    finally:
        if not saved:
            shutil.rmtree(incoming, ignore_errors=True)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    logger.info("labelled data set %s saved in %s (%s reviews)", dataset.name, folder, dataset.rows)
    return dataset


def dataset_folder_remove(folder: str) -> None:
    """Remove a deleted set's folder, and only a folder inside the data sets' folder, whatever the row said."""
    root = labelled_datasets_folder().resolve()
    path = Path(folder).resolve()
    if not folder or path == root or root not in path.parents:
        logger.warning("not removing %r: it is not a data set's folder under %s", folder, root)
        return
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        logger.warning("the folder of a deleted data set could not be removed: %s", path)


@receiver(post_delete, sender=LabelledDataset, dispatch_uid="dataset_folder_delete")
def _dataset_folder_delete(sender, instance: LabelledDataset, **kwargs) -> None:
    transaction.on_commit(lambda: dataset_folder_remove(instance.folder))
