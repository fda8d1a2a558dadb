"""Reads: runs side by side (the compare page). Every figure has a row, a unit and, where one direction
is better, which one; settings are compared key by key and the rows that differ are marked."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentiment.models import TrainingRun
from sentiment.selectors.serving import training_run_serving_runtime

MAX_COMPARED = 6


@dataclass
class Row:
    label: str
    values: list
    help: str = ""
    better: str = ""  # "high", "low" or "" (no better direction)
    unit: str = ""
    best: list[bool] = field(default_factory=list)

    def mark_best(self) -> None:
        numbers = [v for v in self.values if isinstance(v, int | float) and not isinstance(v, bool)]
        if not self.better or len(numbers) < 2 or len(set(numbers)) == 1:
            self.best = [False] * len(self.values)
            return
        top = max(numbers) if self.better == "high" else min(numbers)
        self.best = [v == top for v in self.values]

    @property
    def cells(self) -> list[tuple]:
        """(value, is the best of the row) per run, for the template."""
        return list(zip(self.values, self.best or [False] * len(self.values), strict=True))

    @property
    def differs(self) -> bool:
        return len({repr(v) for v in self.values}) > 1


def _get(metrics: dict, *path):
    for key in path:
        metrics = metrics.get(key) if isinstance(metrics, dict) else None
    return metrics


def _served_runtime_figure(run: TrainingRun, name: str):
    runtime = training_run_serving_runtime(run=run)
    return _get(run.metrics or {}, "serving", "runtimes", runtime, name)


def training_runs_comparison(*, runs: list[TrainingRun]) -> dict:
    """The compare page's tables and the validation curves of ``runs`` (in the order given)."""
    m = [run.metrics or {} for run in runs]
    figures = [
        Row("Status", [run.get_status_display() for run in runs]),
        Row("Preset", [run.preset for run in runs]),
        Row("Base model", [run.config.get("base_model") for run in runs]),
        Row("Data", [_get(x, "data", "source") for x in m]),
        Row("Training reviews", [_get(x, "data", "sizes", "train") for x in m]),
        Row("Device", [run.device or None for run in runs]),
        Row("Precision", [run.precision or None for run in runs], "16-bit floats (bf16) are faster where supported."),
        Row(
            "Wall time", [x.get("wall_seconds") for x in m], "The whole run: data, training, test, saving.", "low", "s"
        ),
        Row(
            "Training speed",
            [_get(x, "train", "samples_per_second") for x in m],
            "Reviews trained on per second.",
            "high",
            "reviews/s",
        ),
        Row("Test accuracy", [_get(x, "test", "accuracy") for x in m], "Share of test reviews right.", "high"),
        Row("F1", [_get(x, "test", "f1") for x in m], "Harmonic mean of precision and recall.", "high"),
        Row("ROC AUC", [_get(x, "test", "roc_auc") for x in m], "Ranking quality, threshold-free.", "high"),
        Row(
            "Calibration error (ECE)",
            [_get(x, "test", "calibration", "ece") for x in m],
            "Gap between confidence and accuracy; 0 is perfect.",
            "low",
        ),
        Row("Test reviews", [_get(x, "test", "examples") for x in m]),
        Row("Parameters", [_get(x, "model", "parameters") for x in m], "Weights the model has."),
        Row("Weights on disk", [_mb(_get(x, "model", "bytes")) for x in m], "", "", "MB"),
        Row("Serving runtime", [training_run_serving_runtime(run=run) for run in runs]),
        Row(
            "One review, served",
            [_served_runtime_figure(run, "ms_per_review") for run in runs],
            "Median time to answer one review on the CPU that checked it.",
            "low",
            "ms",
        ),
        Row(
            "Points lost serving",
            [_served_runtime_figure(run, "accuracy_loss_points") for run in runs],
            "Accuracy lost by the serving runtime against PyTorch.",
            "low",
        ),
        Row(
            "Behavioural checks passed",
            [_get(x, "behaviour", "pass_rate") for x in m],
            "Share of the behavioural tests passed.",
            "high",
        ),
    ]
    behaviour = _behaviour_rows(m)
    settings = _settings_rows(runs)
    for row in (*figures, *behaviour):
        row.mark_best()
    return {
        "runs": runs,
        "figures": figures,
        "behaviour": behaviour,
        "settings": settings,
        "differences": sum(row.differs for row in settings),
        "curves": [
            {
                "name": f"#{run.pk} {run.preset}",
                "points": [[e.get("epoch"), e.get("accuracy")] for e in x.get("epochs") or []],
            }
            for run, x in zip(runs, m, strict=True)
        ],
    }


def _mb(size):
    return round(size / 2**20, 1) if size else None


def _behaviour_rows(metrics: list[dict]) -> list[Row]:
    """One row per capability of the behavioural checks, pass rates per run. Only results of one version of
    the battery (the newest among the runs) are compared: a run checked with another shows —."""
    versions = {_get(x, "behaviour", "version") for x in metrics} - {None}
    newest = max(versions, key=_version_order, default=None)
    names: dict[str, str] = {}
    rates: list[dict] = []
    for x in metrics:
        found = {}
        if _get(x, "behaviour", "version") == newest:
            for capability in _get(x, "behaviour", "capabilities") or []:
                names.setdefault(capability["name"], capability["title"])
                found[capability["name"]] = capability["pass_rate"]
        rates.append(found)
    return [Row(title, [r.get(name) for r in rates], "", "high") for name, title in names.items()]


def _version_order(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in str(version).split("."))


def _settings_rows(runs: list[TrainingRun]) -> list[Row]:
    keys = sorted({key for run in runs for key in run.config})
    rows = [Row(key, [run.config.get(key) for run in runs]) for key in keys if key not in ("output_dir", "resume")]
    return sorted(rows, key=lambda row: not row.differs)  # the differences first
