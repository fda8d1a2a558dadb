"""Drift and the accuracy estimated without labels (``ml.evaluation.drift``), on distributions made here."""

import numpy as np
import pytest

from ml.evaluation.drift import (
    DRIFT_THRESHOLD,
    MIN_ANSWERS,
    confidence,
    drift_report,
    estimated_accuracy,
    psi,
    shares,
    words,
)
from ml.evaluation.metrics import calibration
from ml.results import Calibration, CalibrationBin

rng = np.random.default_rng(7)


def test_the_same_distribution_drifts_by_chance_only():
    reference = rng.normal(200, 80, 5000)
    values = [psi(reference, rng.normal(200, 80, 1000)).psi for _ in range(20)]
    assert max(values) < 0.05  # chance alone: about BINS / n


def test_short_reviews_against_long_ones_drift_far_past_the_threshold():
    reference = rng.normal(230, 90, 5000).clip(10)
    assert psi(reference, rng.normal(15, 5, 1000).clip(1)).psi > 4 * DRIFT_THRESHOLD


def test_the_psi_is_the_sum_over_the_bins_worked_by_hand():
    reference = np.arange(100.0)  # two bins: below 49.5 and above
    live = np.array([10.0] * 75 + [90.0] * 25)
    signal = psi(reference, live, bins=2)
    assert signal.reference_shares == [0.5, 0.5] and signal.live_shares == [0.75, 0.25]
    assert signal.psi == pytest.approx(round((0.75 - 0.5) * np.log(1.5) + (0.25 - 0.5) * np.log(0.5), 4))


def test_an_empty_bin_keeps_the_index_finite():
    assert np.isfinite(psi(np.arange(100.0), np.full(50, 1000.0)).psi)


def test_a_value_on_an_edge_counts_in_the_upper_bin():
    assert list(shares(np.array([1.0, 2.0]), np.array([2.0]))) == [0.5, 0.5]


def test_the_alarm_needs_enough_answers_and_a_score_past_the_threshold():
    reference = {"words": rng.normal(230, 90, 2000), "confidence": rng.uniform(0.5, 1, 2000)}
    few = drift_report(
        reference=reference, live={"words": np.full(MIN_ANSWERS - 1, 5.0), "confidence": np.full(MIN_ANSWERS - 1, 0.6)}
    )
    assert few.score > DRIFT_THRESHOLD and not few.judged and not few.alarm
    short = drift_report(
        reference=reference, live={"words": np.full(MIN_ANSWERS, 5.0), "confidence": rng.uniform(0.5, 1, MIN_ANSWERS)}
    )
    assert short.alarm and [s.name for s in short.signals] == ["words", "confidence"]
    alike = drift_report(
        reference=reference, live={"words": rng.normal(230, 90, 1000), "confidence": rng.uniform(0.5, 1, 1000)}
    )
    assert alike.judged and not alike.alarm


def simulated_answers(n: int, *, seed: int):
    """A calibrated-ish model: the true label agrees with the answer with probability ``confidence``,
    then squeezed so that its raw confidence overstates it (as fine-tuned models' does)."""
    r = np.random.default_rng(seed)
    true_confidence = r.uniform(0.5, 1.0, n)
    right = r.random(n) < true_confidence
    shown = 0.5 + (true_confidence - 0.5) * 0.3 + 0.35  # overconfident: 0.85 to 1.0
    answered_positive = r.random(n) < 0.5
    labels = np.where(right, answered_positive, ~answered_positive).astype(int)
    positive_probs = np.where(answered_positive, shown, 1 - shown)
    return labels, positive_probs


def test_the_estimate_reads_the_test_reviews_calibration_not_the_raw_confidence():
    labels, probs = simulated_answers(5000, seed=1)
    bins = Calibration.from_json(calibration(labels, probs)).bins
    live_labels, live_probs = simulated_answers(1000, seed=2)
    truth = float(((live_probs >= 0.5).astype(int) == live_labels).mean())
    assert estimated_accuracy(confidence(live_probs), bins) == pytest.approx(truth, abs=0.03)
    assert confidence(live_probs).mean() - truth > 0.1  # the raw confidence would have said far more


def test_no_answers_no_estimate_and_a_thin_bin_falls_back_to_the_confidence():
    assert estimated_accuracy(np.array([]), []) is None
    thin = [CalibrationBin.from_json({"low": 0.5, "high": 1.0, "count": 3, "accuracy": 0.1})]
    assert estimated_accuracy(np.array([0.9, 0.7]), thin) == pytest.approx(0.8)


def test_length_is_counted_in_words():
    assert list(words(["one two  three", " ", "a\nb", "one<br /><br />two"])) == [3, 0, 2, 2]


def test_a_confident_models_answers_through_another_runtime_do_not_drift():
    """Most answers within 1e-4 of 1.0; the same answers rounded as float32 and off by a runtime's 1e-6."""
    reference = 1 - rng.exponential(2e-3, 1000).clip(0, 0.49)
    live = (reference + rng.normal(0, 1e-6, 1000)).astype(np.float32).astype(float).clip(0.5, 1.0)
    assert psi(reference, live, name="confidence").psi < 0.05
