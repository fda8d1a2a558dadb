"""Is today's traffic still what the model was tested on? Drift, and an accuracy estimated without labels.

A model's test accuracy holds for reviews like its test reviews. Nobody labels live traffic, so the
monitor compares what it can see without labels with the served run's own test answers
(``ml.evaluation.scored_reviews``):

- **Drift** is a shift in a distribution. The *population stability index* (PSI) measures it: cut the
  reference (the test answers) into ``BINS`` bins holding equal shares of it, then sum, over the bins,
  ``(live share - reference share) * ln(live share / reference share)``. 0 means the same distribution;
  below 0.1 is usually read as no shift, 0.1 to 0.25 as a moderate one, above 0.25 as a shift that
  matters (``DRIFT_THRESHOLD``). It is computed on two signals: the model's **confidence** (a model
  that meets text unlike its training text is usually less sure of itself) and the review's **length**
  in words (one-line reviews, or text that is not reviews at all, read differently).
- **Estimated accuracy**: a *calibrated* model is right 80% of the time when it says 80%. The run's
  reliability diagram (``ml.evaluation.metrics.calibration``) measured how often it was right in each
  confidence bin on its test reviews; the live answers are counted into the same bins and each bin
  contributes its measured accuracy. It holds while the model stays calibrated on the traffic, which
  drift can break: the estimate is shown beside the run's ECE and the drift score, never alone.

Plain Python and numpy: the Django side gathers the figures, then calls here once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.data.labelled_sets import HTML_BREAK
from ml.results import CalibrationBin

BINS = 10
DRIFT_THRESHOLD = 0.25  # PSI above this on any signal raises the alarm
MIN_ANSWERS = 200  # fewer live answers than this: the PSI is too noisy to judge (≈ BINS / n of it is chance)
RESOLUTION = {"confidence": 0.01, "words": 1.0}  # the finest a bin edge is drawn, per signal
_FLOOR = 1e-4  # an empty bin's share, so that the logarithm stays finite


@dataclass(frozen=True)
class Signal:
    """One signal's drift: the PSI, and the shares per bin (live and reference) for the chart."""

    name: str
    psi: float
    edges: list[float]
    live_shares: list[float]
    reference_shares: list[float]


@dataclass(frozen=True)
class DriftReport:
    answers: int
    signals: list[Signal]
    threshold: float = DRIFT_THRESHOLD

    @property
    def judged(self) -> bool:
        """Enough live answers to read the PSI as more than chance."""
        return self.answers >= MIN_ANSWERS

    @property
    def score(self) -> float | None:
        """The largest PSI over the signals: the figure the alarm reads."""
        return max((signal.psi for signal in self.signals), default=None)

    @property
    def alarm(self) -> bool:
        return self.judged and self.score is not None and self.score > self.threshold


def quantile_edges(reference: np.ndarray, bins: int = BINS, *, resolution: float = 0.0) -> np.ndarray:
    """Inner edges cutting ``reference`` into ``bins`` equal shares, rounded to ``resolution`` (fewer where
    values crowd within it). Without the rounding, a confident model's answers (most within 1e-4 of 1.0)
    make bins a millionth wide, and the same model answering through another runtime, or a float32 file,
    lands its answers in the neighbouring bin: a drift made of rounding."""
    edges = np.quantile(np.asarray(reference, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
    if resolution:
        edges = np.round(edges / resolution) * resolution
    return np.unique(edges)


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin that ``edges`` (inner edges) make; a value on an edge goes up."""
    counts = np.bincount(
        np.searchsorted(edges, np.asarray(values, dtype=float), side="right"), minlength=len(edges) + 1
    )
    return counts / max(counts.sum(), 1)


def psi(reference: np.ndarray, live: np.ndarray, *, name: str = "", bins: int = BINS) -> Signal:
    """The population stability index of ``live`` against ``reference``, bins from the reference's
    quantiles (rounded to the signal's ``RESOLUTION``)."""
    edges = quantile_edges(reference, bins, resolution=RESOLUTION.get(name, 0.0))
    expected, actual = shares(reference, edges), shares(live, edges)
    e, a = np.maximum(expected, _FLOOR), np.maximum(actual, _FLOOR)
    value = float(np.sum((a - e) * np.log(a / e))) if len(live) else 0.0
    return Signal(name, round(value, 4), [float(x) for x in edges], _rounded(actual), _rounded(expected))


def drift_report(*, reference: dict[str, np.ndarray], live: dict[str, np.ndarray]) -> DriftReport:
    """PSI for each signal both sides have (``confidence``, ``words``...)."""
    signals = [psi(values, live[name], name=name) for name, values in reference.items() if name in live and len(values)]
    answers = min((len(values) for values in live.values()), default=0)
    return DriftReport(answers=answers, signals=signals)


def confidence(positive_probs: np.ndarray) -> np.ndarray:
    """The model's confidence in the label it gave: P(positive), or 1 - P(positive) for a negative answer."""
    p = np.asarray(positive_probs, dtype=float)
    return np.maximum(p, 1 - p)


def estimated_accuracy(
    confidences: np.ndarray, calibration_bins: list[CalibrationBin], *, min_count: int = 10
) -> float | None:
    """The accuracy the live answers should have if the model is as calibrated on them as on its test
    reviews: each answer counts the accuracy measured in its confidence bin (the run's reliability
    diagram, ``results.test.calibration.bins``), or its own confidence where the bin held fewer than
    ``min_count`` test reviews. None without answers."""
    values = np.asarray(confidences, dtype=float)
    if not len(values):
        return None
    expected = values.copy()
    for bin_ in calibration_bins:
        if (bin_.count or 0) < min_count or bin_.accuracy is None:
            continue
        last = bin_.high >= 1.0
        inside = (values >= bin_.low) & ((values <= bin_.high) if last else (values < bin_.high))
        expected[inside] = bin_.accuracy
    return round(float(expected.mean()), 4)


def words(texts) -> np.ndarray:
    """Each text's length in words (whitespace-separated, HTML line breaks not counted: the test reviews
    were stored without them), the length signal's unit."""
    return np.array([len(HTML_BREAK.sub(" ", text).split()) for text in texts], dtype=float)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(x), 4) for x in values]
