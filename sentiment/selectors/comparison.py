"""Reads: runs side by side (the compare page). Every figure has a row, a unit and, where one direction
is better, which one; settings are compared key by key and the rows that differ are marked."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml.results import RunResults, RuntimeScores
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


def training_runs_comparison(*, runs: list[TrainingRun]) -> dict:
    """The compare page's tables and the validation curves of ``runs`` (in the order given)."""
    results = [run.results for run in runs]
    figures = [*_run_rows(runs, results), *_test_rows(results), *_check_rows(runs, results)]
    behaviour = _behaviour_rows(results)
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
            {"name": f"#{run.pk} {run.preset}", "points": [[e.epoch, e.accuracy] for e in r.epochs]}
            for run, r in zip(runs, results, strict=True)
        ],
    }


def _run_rows(runs: list[TrainingRun], results: list[RunResults]) -> list[Row]:
    """What ran, on what, and how fast."""
    return [
        Row("Status", [run.get_status_display() for run in runs]),
        Row("Preset", [run.preset for run in runs]),
        Row("Base model", [run.config.get("base_model") for run in runs]),
        Row("Teacher", [f"Run #{run.teacher_id}" if run.teacher_id else None for run in runs], "A student's."),
        Row(
            "Layers",
            [r.model_shape.get("num_hidden_layers") if isinstance(r.model_shape, dict) else None for r in results],
            "Transformer layers: each reads the review once more; a distilled student keeps fewer.",
        ),
        Row("Data", [r.data.source for r in results]),
        Row("Training reviews", [r.data.sizes.train for r in results]),
        Row("Device", [run.device or None for run in runs]),
        Row("Precision", [run.precision or None for run in runs], "16-bit floats (bf16) are faster where supported."),
        Row("Wall time", [r.wall_seconds for r in results], "The whole run: data, training, test, saving.", "low", "s"),
        Row(
            "Training speed",
            [r.train.samples_per_second for r in results],
            "Reviews trained on per second.",
            "high",
            "reviews/s",
        ),
    ]


def _test_rows(results: list[RunResults]) -> list[Row]:
    """The test scores and the model's size."""
    tests = [r.test for r in results]
    return [
        Row("Test accuracy", [t.accuracy for t in tests], "Share of test reviews right.", "high"),
        Row(
            "Out-of-domain accuracy",
            _newest_set_only([r.out_of_domain for r in results]),
            "Share right of the short reviews of other things (ml.evaluation.out_of_domain): how far skill travels.",
            "high",
        ),
        Row("F1", [t.f1 for t in tests], "Harmonic mean of precision and recall.", "high"),
        Row("ROC AUC", [t.roc_auc for t in tests], "Ranking quality, threshold-free.", "high"),
        Row(
            "Calibration error (ECE)",
            [t.calibration.ece for t in tests],
            "Gap between confidence and accuracy; 0 is perfect.",
            "low",
        ),
        Row("Test reviews", [t.examples for t in tests]),
        Row("Parameters", [r.model.parameters for r in results], "Weights the model has."),
        Row("Weights on disk", [_mb(r.model.bytes) for r in results], "", "", "MB"),
    ]


def _check_rows(runs: list[TrainingRun], results: list[RunResults]) -> list[Row]:
    """The checks after training: the runtime that serves (and its figures), and the behavioural checks."""
    served = [training_run_serving_runtime(run=run) for run in runs]
    scores = [r.serving.runtimes.get(name) or RuntimeScores() for r, name in zip(results, served, strict=True)]
    return [
        Row("Serving runtime", served),
        Row(
            "One review, served",
            [s.ms_per_review for s in scores],
            "Median time to answer one review on the CPU that checked it.",
            "low",
            "ms",
        ),
        Row(
            "Points lost serving",
            [s.accuracy_loss_points for s in scores],
            "Accuracy lost by the serving runtime against PyTorch.",
            "low",
        ),
        Row(
            "Behavioural checks passed",
            [r.behaviour.pass_rate for r in results],
            "Share of the behavioural tests passed.",
            "high",
        ),
    ]


def _mb(size):
    return round(size / 2**20, 1) if size else None


def _behaviour_rows(results: list[RunResults]) -> list[Row]:
    """One row per capability of the behavioural checks, pass rates per run. Only results of one version of
    the battery (the newest among the runs) are compared: a run checked with another shows —."""
    newest = max({r.behaviour.version for r in results} - {None}, key=_version_order, default=None)
    names: dict[str, str] = {}
    rates: list[dict] = []
    for r in results:
        found = {}
        if r.behaviour.version == newest:
            for capability in r.behaviour.capabilities:
                names.setdefault(capability.name, capability.title)
                found[capability.name] = capability.pass_rate
        rates.append(found)
    return [Row(title, [r.get(name) for r in rates], "", "high") for name, title in names.items()]


def _newest_set_only(checks: list) -> list:
    """Each run's out-of-domain accuracy, where it was scored on the newest version of the set among the runs."""
    newest = max({c.version for c in checks} - {None}, key=_version_order, default=None)
    return [c.accuracy if c.version == newest else None for c in checks]


def _version_order(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in str(version).split("."))


def _settings_rows(runs: list[TrainingRun]) -> list[Row]:
    keys = sorted({key for run in runs for key in run.config})
    rows = [Row(key, [run.config.get(key) for run in runs]) for key in keys if key not in ("output_dir", "resume")]
    return sorted(rows, key=lambda row: not row.differs)  # the differences first
