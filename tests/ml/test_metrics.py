"""Whether one model is worse than another beyond what chance explains (``ml.evaluation.metrics.accuracy_drop``)."""

import pytest

from ml.evaluation.metrics import accuracy_drop


def test_a_drop_larger_than_two_standard_errors_is_a_regression():
    drop = accuracy_drop(candidate=0.839, served=0.908, candidate_n=5000, served_n=5000)
    assert drop["drop_points"] == pytest.approx(6.9) and drop["noise_points"] == pytest.approx(1.32)


def test_a_drop_within_chance_is_not_one_and_fewer_reviews_mean_more_chance():
    assert accuracy_drop(candidate=0.90, served=0.908, candidate_n=5000, served_n=5000) is None
    assert accuracy_drop(candidate=0.85, served=0.90, candidate_n=100, served_n=100) is None
    assert accuracy_drop(candidate=0.85, served=0.90, candidate_n=10_000, served_n=10_000) is not None


def test_no_drop_or_nothing_to_compare_is_no_regression():
    assert accuracy_drop(candidate=0.95, served=0.90, candidate_n=100, served_n=100) is None
    assert accuracy_drop(candidate=None, served=0.90, candidate_n=100, served_n=100) is None
    assert accuracy_drop(candidate=0.5, served=0.90, candidate_n=0, served_n=100) is None
