"""One typed record of a run's results: what training writes (the run's row and its ``metrics.json``), and
what every page, command, API answer, estimate and comparison reads.

The results used to be a JSON dict read by string paths in forty places, where a key renamed on one side
showed None on a page without a word. Here each key is named once, as a field: a field renamed is an
``AttributeError`` wherever the old name is still read, and linters see it.

Runs saved by older versions lack sections and keys, and may hold keys this version no longer knows. Both
are handled here, once, by ``Section``, and nowhere else:

- a key left out reads as None (a value), as ``[]`` or ``{}`` (a list or a dict), or as an empty section,
  which is false: ``results.test.accuracy`` is None for a run never tested, and ``if results.serving:``
  asks whether the run was checked;
- a key the record does not know, or one whose value has another shape than the record expects, is kept
  as it was in the section's ``extra`` and written back unchanged;
- ``to_json`` writes what ``from_json`` read, key for key: a key left out stays out and a null stays null.
  So the rows stored and the ``metrics.json`` files keep their shape; no migration is needed.

A field assigned after the section is made is written even when it is None (the serving check turned
off is recorded as ``"serving": null``). ``dataclasses.replace`` would mark every field as given: assign.
"""

from __future__ import annotations

import copy
import functools
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

RESULTS_FILE = "metrics.json"  # in the run's folder, beside its model


class _LeftOut:
    def __repr__(self) -> str:
        return "LEFT_OUT"


LEFT_OUT: Any = _LeftOut()  # every field's default: the key is not in the JSON


@dataclass
class Section:
    """What every part of the record shares: reading and writing its JSON, tolerant of older runs.

    A field's type says how its JSON is read: a ``Section`` is read as one, ``list[Section]`` and
    ``dict[str, Section]`` as lists and dicts of them, and anything else (``float | None``, ``dict``,
    ``list[str]``) is kept as it is in the JSON.
    """

    extra: dict = field(default_factory=dict)  # the keys this version does not read, as they were

    def __setattr__(self, name: str, value) -> None:
        kind = _kinds(type(self)).get(name)
        if kind is None:  # extra
            object.__setattr__(self, name, value)
            return
        left_out = self.__dict__.setdefault("_left_out", set())
        null = self.__dict__.setdefault("_null", set())
        left_out.discard(name)
        null.discard(name)
        if value is LEFT_OUT or value is None:
            (left_out if value is LEFT_OUT else null).add(name)
            value = kind.empty()
        object.__setattr__(self, name, value)

    def __bool__(self) -> bool:
        return bool(self.extra) or any(not _is_empty(getattr(self, name)) for name in _kinds(type(self)))

    @classmethod
    def from_json(cls, data: dict | None):
        """The section from its JSON; None, or anything but a dict, gives an empty section."""
        kinds = _kinds(cls)
        values, extra = {}, {}
        for key, value in (data if isinstance(data, dict) else {}).items():
            loaded = kinds[key].load(value) if key in kinds else LEFT_OUT
            if loaded is LEFT_OUT:
                extra[key] = copy.deepcopy(value)
            else:
                values[key] = loaded
        return cls(**values, extra=extra)

    def to_json(self) -> dict:
        """Plain JSON types, in the order the fields are declared, then the keys kept in ``extra``."""
        out = {}
        for name in _kinds(type(self)):
            value = getattr(self, name)
            if not _is_empty(value):
                out[name] = _dump(value)
            elif name in self.__dict__.get("_null", ()):
                out[name] = None
            elif name not in self.__dict__.get("_left_out", ()):
                out[name] = _dump(value)  # given empty: {} or []
        for key, value in self.extra.items():
            out.setdefault(key, _dump(value))
        return out


@dataclass(frozen=True)
class _Kind:
    """How one field's JSON is read, from its type."""

    shape: type | None = None  # list or dict: the JSON it takes; None: any value
    section: type[Section] | None = None
    many: bool = False  # a list or dict of sections

    def empty(self):
        if self.section is not None and not self.many:
            return self.section()
        return self.shape() if self.shape else None

    def load(self, value):
        """The field's value from its JSON; ``LEFT_OUT`` for a value of another shape (kept in ``extra``)."""
        if value is None:
            return None
        if self.shape is not None and not isinstance(value, self.shape):
            return LEFT_OUT
        if self.section is None:
            return copy.deepcopy(value)
        if not self.many:
            return self.section.from_json(value)
        items = value if self.shape is list else list(value.values())
        if not all(isinstance(item, dict) for item in items):
            return LEFT_OUT
        if self.shape is list:
            return [self.section.from_json(item) for item in value]
        return {name: self.section.from_json(item) for name, item in value.items()}


@functools.cache
def _kinds(cls: type[Section]) -> dict[str, _Kind]:
    """Each field's kind, by name, in the order declared (``extra`` aside)."""
    hints = typing.get_type_hints(cls)
    return {f.name: _kind(hints[f.name]) for f in fields(cls) if f.name != "extra"}


def _kind(hint) -> _Kind:
    if _is_section(hint):
        return _Kind(dict, hint)
    shape = typing.get_origin(hint) or hint
    if shape not in (list, dict):
        return _Kind()  # a value: a number, a string, a bool, or a list or dict that may be null
    item = typing.get_args(hint)[-1] if typing.get_args(hint) else None
    return _Kind(shape, item, many=True) if _is_section(item) else _Kind(shape)


def _is_section(hint) -> bool:
    return isinstance(hint, type) and issubclass(hint, Section)


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, list | dict | Section) and not value)


def _dump(value):
    if isinstance(value, Section):
        return value.to_json()
    if isinstance(value, list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


@dataclass
class RanOn(Section):
    """The hardware the run trained on (``ml.hardware.Hardware``)."""

    kind: str | None = LEFT_OUT  # "cuda", "mps" or "cpu"
    name: str | None = LEFT_OUT
    count: int | None = LEFT_OUT
    bf16: bool | None = LEFT_OUT


@dataclass
class SplitSizes(Section):
    """The reviews each split used."""

    train: int | None = LEFT_OUT
    validation: int | None = LEFT_OUT
    test: int | None = LEFT_OUT


@dataclass
class DataUsed(Section):
    source: str | None = LEFT_OUT  # the reviews, as people read their name
    sizes: SplitSizes = LEFT_OUT
    notes: list[str] = LEFT_OUT
    # the reviews' sizes before any limit and their lengths: kept as a dict, read in one place for the next
    # estimate (ml.estimate.DataShape.from_profile), written by ml.training.pipeline._data_profile
    profile: dict = LEFT_OUT


@dataclass
class TrainingFigures(Section):
    loss: float | None = LEFT_OUT
    samples_per_second: float | None = LEFT_OUT
    seconds: float | None = LEFT_OUT
    steps: int | None = LEFT_OUT


@dataclass
class EpochScores(Section):
    """One validation: the learning curve's point (the Trainer's other figures are kept in ``extra``)."""

    epoch: float | None = LEFT_OUT
    step: int | None = LEFT_OUT
    loss: float | None = LEFT_OUT
    accuracy: float | None = LEFT_OUT
    precision: float | None = LEFT_OUT
    recall: float | None = LEFT_OUT
    f1: float | None = LEFT_OUT
    roc_auc: float | None = LEFT_OUT


@dataclass
class CalibrationBin(Section):
    low: float | None = LEFT_OUT
    high: float | None = LEFT_OUT
    count: int | None = LEFT_OUT
    confidence: float | None = LEFT_OUT  # left out of a bin without reviews
    accuracy: float | None = LEFT_OUT


@dataclass
class Calibration(Section):
    bins: list[CalibrationBin] = LEFT_OUT
    ece: float | None = LEFT_OUT  # the expected calibration error (ml.evaluation.metrics)


@dataclass
class TestScores(Section):
    """The test set, scored once after training (``ml.evaluation.metrics``)."""

    __test__ = False  # for pytest: not a test class, whatever its name says

    accuracy: float | None = LEFT_OUT
    precision: float | None = LEFT_OUT
    recall: float | None = LEFT_OUT
    f1: float | None = LEFT_OUT
    roc_auc: float | None = LEFT_OUT  # None with a single class
    confusion_matrix: list[list[int]] | None = LEFT_OUT  # [[tn, fp], [fn, tp]]
    examples: int | None = LEFT_OUT
    calibration: Calibration = LEFT_OUT
    loss: float | None = LEFT_OUT
    samples_per_second: float | None = LEFT_OUT


@dataclass
class ModelSize(Section):
    parameters: int | None = LEFT_OUT
    trainable_parameters: int | None = LEFT_OUT
    bytes: int | None = LEFT_OUT  # the saved weights


@dataclass
class RuntimeScores(Section):
    accuracy: float | None = LEFT_OUT
    reviews_per_second: float | None = LEFT_OUT
    ms_per_review: float | None = LEFT_OUT  # the median answer to one review
    accuracy_loss_points: float | None = LEFT_OUT  # against PyTorch


@dataclass
class ExportCheck(Section):
    """The ONNX export and its agreement with PyTorch (``ml.serving.onnx_export.ExportReport``), or its error."""

    seconds: float | None = LEFT_OUT
    checked_texts: int | None = LEFT_OUT
    max_difference: dict[str, float] = LEFT_OUT
    label_agreement: dict[str, float] = LEFT_OUT
    files: dict[str, str] = LEFT_OUT
    error: str | None = LEFT_OUT


@dataclass
class ServingCheck(Section):
    """Each serving runtime on test reviews after training (``ml.serving.check``), or why it could not run."""

    reviews: int | None = LEFT_OUT
    runtimes: dict[str, RuntimeScores] = LEFT_OUT
    export: ExportCheck = LEFT_OUT
    error: str | None = LEFT_OUT


@dataclass
class BehaviourFailure(Section):
    text: str | None = LEFT_OUT
    expected: str | None = LEFT_OUT
    got: str | None = LEFT_OUT
    original: str | None = LEFT_OUT  # the text before it was changed (invariance, directional)


@dataclass
class CapabilityResult(Section):
    name: str | None = LEFT_OUT
    title: str | None = LEFT_OUT
    explanation: str | None = LEFT_OUT
    kind: str | None = LEFT_OUT  # mft, inv, dir
    passed: int | None = LEFT_OUT
    total: int | None = LEFT_OUT
    pass_rate: float | None = LEFT_OUT
    failures: list[BehaviourFailure] = LEFT_OUT


@dataclass
class BehaviourResult(Section):
    """The behavioural checks (``ml.evaluation.behaviour``), or why they could not run."""

    version: str | None = LEFT_OUT  # of the battery: results of different versions are never compared
    passed: int | None = LEFT_OUT
    total: int | None = LEFT_OUT
    pass_rate: float | None = LEFT_OUT
    capabilities: list[CapabilityResult] = LEFT_OUT
    runtime: str | None = LEFT_OUT  # what answered them
    error: str | None = LEFT_OUT


@dataclass
class GroupScore(Section):
    reviews: int | None = LEFT_OUT
    right: int | None = LEFT_OUT
    accuracy: float | None = LEFT_OUT


@dataclass
class OutOfDomainMistake(Section):
    text: str | None = LEFT_OUT
    expected: str | None = LEFT_OUT
    positive_probability: float | None = LEFT_OUT
    kind: str | None = LEFT_OUT
    style: str | None = LEFT_OUT


@dataclass
class OutOfDomainResult(Section):
    """The out-of-domain check (``ml.evaluation.out_of_domain``): short reviews of other kinds, or why it could
    not run."""

    version: str | None = LEFT_OUT  # of the set: results of different versions are never compared
    reviews: int | None = LEFT_OUT
    right: int | None = LEFT_OUT
    accuracy: float | None = LEFT_OUT
    by_kind: dict[str, GroupScore] = LEFT_OUT
    by_style: dict[str, GroupScore] = LEFT_OUT
    mistakes: list[OutOfDomainMistake] = LEFT_OUT
    runtime: str | None = LEFT_OUT  # what answered them
    error: str | None = LEFT_OUT


@dataclass
class CorrectionsScore(Section):
    """The corrections people sent (``ml.data.corrections``): how many, and the model on those held out."""

    version: str | None = LEFT_OUT
    train: int | None = LEFT_OUT
    held_out: int | None = LEFT_OUT
    trained_on: int | None = LEFT_OUT
    right: int | None = LEFT_OUT
    accuracy: float | None = LEFT_OUT


@dataclass
class AddedDataScore(Section):
    """Reviews of your own added to the training data, and the model on their own test reviews."""

    folder: str | None = LEFT_OUT
    train: int | None = LEFT_OUT
    test: int | None = LEFT_OUT
    right: int | None = LEFT_OUT
    accuracy: float | None = LEFT_OUT


@dataclass
class PhaseSeconds(Section):
    """The seconds of each phase (``ml.training.run_measures.Laps``), which the next estimate scales from."""

    prepare: float | None = LEFT_OUT
    train: float | None = LEFT_OUT  # validation taken out
    test: float | None = LEFT_OUT
    checks: float | None = LEFT_OUT
    validation: float | None = LEFT_OUT
    total: float | None = LEFT_OUT


@dataclass
class MemoryPeak(Section):
    peak_bytes: int | None = LEFT_OUT  # the process's resident memory
    device_peak_bytes: int | None = LEFT_OUT  # on a GPU, the most PyTorch held there


@dataclass
class MemoryPeaks(MemoryPeak):
    """The run's peaks, and those when training ended (before the checks): what the estimate models."""

    training: MemoryPeak = LEFT_OUT


@dataclass
class RunResults(Section):
    """Everything a run recorded about itself, section by section, in the order ``metrics.json`` has them."""

    base_model: str | None = LEFT_OUT
    device: str | None = LEFT_OUT  # as people read it: "cuda (NVIDIA H100)"
    hardware: RanOn = LEFT_OUT
    precision: str | None = LEFT_OUT
    processes: int | None = LEFT_OUT
    data: DataUsed = LEFT_OUT
    resumed_from: str | None = LEFT_OUT  # the checkpoint, when the run went on from one
    train: TrainingFigures = LEFT_OUT
    epochs: list[EpochScores] = LEFT_OUT
    # layers and widths under a Hugging Face config.json's names: kept as a dict, read in one place
    # (ml.estimate.ModelShape.from_config, which reads any model's config.json)
    model_shape: dict = LEFT_OUT
    test: TestScores = LEFT_OUT
    model: ModelSize = LEFT_OUT
    serving: ServingCheck = LEFT_OUT
    behaviour: BehaviourResult = LEFT_OUT
    out_of_domain: OutOfDomainResult = LEFT_OUT
    corrections: CorrectionsScore = LEFT_OUT  # only when trained with corrections
    added_data: AddedDataScore = LEFT_OUT  # only when trained with reviews of your own
    seconds: PhaseSeconds = LEFT_OUT
    memory: MemoryPeaks = LEFT_OUT
    wall_seconds: float | None = LEFT_OUT
    stopped: bool | None = LEFT_OUT


def results_read(path: str | Path) -> RunResults:
    """A run's ``metrics.json``."""
    return RunResults.from_json(json.loads(Path(path).read_text()))


def results_write(path: str | Path, results: RunResults) -> None:
    Path(path).write_text(json.dumps(results.to_json(), indent=2, default=str))
