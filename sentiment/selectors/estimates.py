"""The launch form's estimate: what a run will need on the training worker, from what is known now.

``ml.estimate`` does the arithmetic; this module gathers its inputs from the database: the hardware the
training worker reported when it started (``WorkerHost``), the earlier run on that hardware whose
measured speed to scale from, the lengths of the reviews (an uploaded data set's statistics, a run on the
same data, or IMDb's measured profile) and the shape of the model (its ``config.json``). Nothing heavy is
imported: the estimate is recomputed as a person changes the form.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from django.conf import settings

from ml import estimate as arithmetic
from ml.config import TrainingConfig
from ml.errors import ConfigError, ModelError
from ml.hardware import Hardware as Device
from ml.hardware import resolve_precision
from ml.presets import PRESET_SUMMARIES
from sentiment.models import LabelledDataset, TrainingRun, WorkerHost
from sentiment.templatetags.figures import duration

CANDIDATE_RUNS = 50  # the newest succeeded runs looked at for one measured on the same hardware
LONG_RUN_SECONDS = 2 * 3600  # past this, the form says which preset suits the worker's hardware


def training_worker() -> WorkerHost | None:
    """The training worker that reported last (the one likely to take the next run)."""
    return WorkerHost.objects.order_by("-seen_at").first()


def run_estimate(config: TrainingConfig) -> dict:
    """The estimate for ``config`` as a dict for the page, the API and the run's record (``Estimate.to_dict``),
    with ``worker`` naming the hardware; or ``{"unavailable": reason}`` when there is nothing to estimate on."""
    data = data_warnings(config)
    known = {"warnings": data} if data else {}  # said even without an estimate
    worker = training_worker()
    if worker is None:
        return {"unavailable": "No training worker has reported its hardware yet (is one running?).", **known}
    hardware = arithmetic.Hardware.from_profile(worker.hardware)
    try:
        model = model_shape(config.base_model)
        if config.keep_layers:  # a student (or a shallower run) computes only the layers it keeps
            model = dataclasses.replace(model, layers=min(config.keep_layers, model.layers))
        precision = resolve_precision(config.precision, _device(worker.hardware))
    except (ConfigError, ModelError) as exc:
        return {"unavailable": str(exc), **known}
    measured = measured_run(config, worker.hardware)
    found = arithmetic.run_estimate(
        config, data=data_shape(config), model=model, hardware=hardware, precision=precision, measured=measured
    )
    warnings = [*found.warnings, *_long_run_warnings(found.seconds, hardware.kind), *data]
    return {**found.to_dict(), "warnings": warnings, "worker": _worker_name(worker), "precision": precision}


def _long_run_warnings(seconds: float | None, kind: str) -> list[str]:
    """A run of hours (the tutorial's recipe takes days on a CPU): the preset made for this hardware."""
    if not seconds or seconds < LONG_RUN_SECONDS:
        return []
    if kind == "cuda":
        advice = f"On a GPU, start from the fast preset ({PRESET_SUMMARIES['fast']}: bf16, larger batches, padding"
        advice += " to the batch's longest review)"
    else:
        advice = (
            f"On a CPU, start from the cpu preset ({PRESET_SUMMARIES['cpu']}) or smoke ({PRESET_SUMMARIES['smoke']})"
        )
    return [
        f"A long run: about {duration(seconds)} on this worker's {'GPU' if kind == 'cuda' else kind.upper()}. "
        f"{advice}; fewer training reviews, a shorter max length or frozen layers also shorten it."
    ]


def data_warnings(config: TrainingConfig) -> list[str]:
    """IMDb is read from ``IMDB_DATA_DIR`` (the worker's setting, the same as this site's in one deployment),
    else downloaded from the Hugging Face hub: say so before a run that would fail on it is launched."""
    if config.dataset != "imdb":
        return []
    folder = settings.IMDB_DATA_DIR
    files = "a folder holding train.parquet and test.parquet (the official IMDb splits)"
    if not folder:
        return [
            f"IMDb needs IMDB_DATA_DIR: it is not set, so the worker would download IMDb from the Hugging Face hub, "
            f"which fails without a network. Set IMDB_DATA_DIR to {files} and restart the site and the worker, or "
            "train on the bundled demo data (Data: demo)."
        ]
    path = Path(folder)
    splits = all(next(path.glob(f"{split}.*"), None) for split in ("train", "test"))  # ml.data.sources reads the format
    if not (splits or (path / "train" / "pos").is_dir()):
        return [
            f"IMDb needs IMDB_DATA_DIR to be {files}, or an aclImdb folder; {folder} is not: the run would fail "
            "when it loads its data."
        ]
    return []


def model_shape(base_model: str) -> arithmetic.ModelShape:
    """The model's layers and widths from its ``config.json`` (bundled, a local folder, or the hub's cache);
    for a hub model never downloaded here, its known shape, or the shape a run of it recorded."""
    config = _local_model_config(base_model)
    if config is None:
        config = arithmetic.KNOWN_MODELS.get(base_model)
    if config is None:
        recorded = _recorded_runs().filter(config__base_model=base_model).first()
        config = recorded.results.model_shape if recorded else None
    if not config:
        raise ModelError(f"the shape of {base_model} is not known before it is downloaded, so no estimate")
    return arithmetic.ModelShape.from_config(config)


def data_shape(config: TrainingConfig) -> arithmetic.DataShape:
    """How many reviews the run's data has before any limit, and how long they are."""
    uploaded = _uploaded(config.dataset)
    shape = _uploaded_shape(uploaded) if uploaded is not None else _source_shape(config.dataset)
    added = _uploaded(config.added_data) if config.added_data else None
    if added is None:
        return shape
    added_shape = _uploaded_shape(added)
    return dataclasses.replace(shape, added_train=added_shape.train, added_test=added_shape.test)


def measured_run(config: TrainingConfig, hardware: dict) -> arithmetic.Measured | None:
    """The earlier run on the same hardware closest to ``config`` (same model, precision, data, padding;
    then the newest), as ``ml.estimate`` reads it; None when no run on that hardware was measured."""
    best, best_score = None, -1
    for run in _recorded_runs()[:CANDIDATE_RUNS]:
        ran_on = run.results.hardware
        if (ran_on.kind, ran_on.name) != (hardware.get("kind"), hardware.get("name")):
            continue
        earlier = run.config
        score = (
            4 * (earlier.get("base_model") == config.base_model)
            + 2 * (earlier.get("precision") == config.precision)
            + (earlier.get("dataset") == config.dataset)
            + (earlier.get("padding") == config.padding)
        )
        if score > best_score:
            best, best_score = run, score
    return _measured(best) if best is not None else None


def _recorded_runs():
    """Succeeded runs that measured their phases in one go (a resumed run timed only its last part)."""
    return TrainingRun.objects.filter(
        # the database reads the key (ml.results.RunResults.seconds): only runs that timed their phases
        status=TrainingRun.Status.SUCCEEDED,
        interruptions=0,
        metrics__seconds__isnull=False,
    ).order_by("-finished_at", "-pk")


def _measured(run: TrainingRun) -> arithmetic.Measured | None:
    return arithmetic.measured_from_results(run.results, run.config, run_id=run.pk)


def _source_shape(dataset: str) -> arithmetic.DataShape:
    """imdb, demo or a folder: the profile the newest run on it recorded, else IMDb's (measured once)."""
    for run in _recorded_runs().filter(config__dataset=dataset)[:5]:
        recorded = arithmetic.DataShape.from_profile(run.results.data.profile)
        if recorded is not None:
            return recorded
    train, test = arithmetic.SOURCE_SIZES.get(dataset, arithmetic.SOURCE_SIZES["imdb"])
    return arithmetic.DataShape(train=train, test=test, words=arithmetic.IMDB_WORDS)


def _uploaded(folder: str) -> LabelledDataset | None:
    return LabelledDataset.objects.filter(folder=folder).first() if folder else None


def _uploaded_shape(dataset: LabelledDataset) -> arithmetic.DataShape:
    """An uploaded set's size and review lengths, from the statistics taken when it was uploaded."""
    stats = dataset.stats or {}
    split = stats.get("split") or {}
    words = stats.get("words") or {}
    return arithmetic.DataShape(
        train=split.get("train", dataset.rows),
        test=split.get("test", 0),
        words=words if words.get("counts") else arithmetic.IMDB_WORDS,
    )


def _local_model_config(base_model: str) -> dict | None:
    from ml.base_models import resolve_base_model

    try:
        source = resolve_base_model(base_model)
    except ModelError:
        return None
    path = Path(source) / "config.json"
    if not path.is_file():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
        path = Path(cached) if isinstance(cached, str) else None
    try:
        return json.loads(path.read_text()) if path else None
    except (OSError, ValueError):
        return None


def _device(profile: dict) -> Device:
    return Device(
        kind=profile.get("kind", "cpu"),
        name=profile.get("name", ""),
        count=profile.get("count", 1),
        bf16=profile.get("bf16", False),
    )


def _worker_name(worker: WorkerHost) -> str:
    profile = worker.hardware
    memory = profile.get("device_memory_bytes") or profile.get("memory_bytes") or 0
    cores = f", {profile['cores']} cores" if profile.get("cores") else ""
    device = f"{profile.get('kind', '?')} ({profile.get('name', '?')}{cores})"
    return f"{worker.hostname}: {device}, {memory / 2**30:.0f} GiB"


def training_run_estimate_check(*, run: TrainingRun) -> dict | None:
    """What the launch form expected beside what the run took (time and peak memory), once it is known."""
    expected = run.estimate or {}
    if not expected or expected.get("unavailable"):
        return None
    took = run.results.seconds.total
    memory = run.results.memory.training
    peak = memory.device_peak_bytes or memory.peak_bytes
    seconds = expected.get("seconds")
    return {
        "seconds": seconds,
        "peak_bytes": expected.get("peak_bytes"),
        "took_seconds": took,
        "took_peak_bytes": peak,
        "time_error": (seconds - took) / took if seconds and took else None,
        "memory_error": (expected["peak_bytes"] - peak) / peak if peak and expected.get("peak_bytes") else None,
        "basis": expected.get("basis", ""),
    }
