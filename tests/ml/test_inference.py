import os
import shutil

import pytest

from ml.errors import ModelError
from ml.evaluation import evaluate_saved_model, evaluation_limits, saved_training_config
from ml.inference import PredictorCache, resolve_model_dir

REVIEWS = ["a wonderful brilliant film, loved it", "awful and boring, the worst", "the plot was dull and tedious"]


def test_predictions_have_a_label_and_a_confidence(trained_tiny_run):
    predictions = PredictorCache().get(trained_tiny_run.output_dir).predict(REVIEWS)
    assert [p.label for p in predictions] == ["positive", "negative", "negative"]
    for p in predictions:
        assert 0.5 <= p.probability <= 1.0
        assert p.probability == pytest.approx(max(p.positive_probability, 1 - p.positive_probability))


def test_batching_by_length_keeps_the_order(trained_tiny_run):
    predictor = PredictorCache().get(trained_tiny_run.model_dir)
    together = predictor.positive_probabilities(REVIEWS * 5, batch_size=4)
    alone = [predictor.positive_probabilities([text])[0] for text in REVIEWS]
    assert together[:3] == pytest.approx(alone, abs=1e-5)


def test_the_cache_loads_once_and_reloads_when_the_model_changes(trained_tiny_run, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(trained_tiny_run.model_dir, model)
    cache = PredictorCache()
    first = cache.get(model)
    assert cache.get(tmp_path) is first  # a run folder resolves to the same model/
    weights = model / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert cache.get(model) is not first


def test_the_cache_keeps_only_the_most_recently_used_models(trained_tiny_run, tmp_path):
    copies = []
    for name in ("a", "b", "c"):
        shutil.copytree(trained_tiny_run.model_dir, tmp_path / name)
        copies.append(tmp_path / name)
    cache = PredictorCache(max_models=2)
    first = cache.get(copies[0])
    cache.get(copies[1])
    assert cache.get(copies[0]) is first  # used again: kept
    cache.get(copies[2])  # evicts the least recently used, copies[1]
    assert cache.get(copies[0]) is first
    assert len(cache._loaded) == 2 and (copies[1].resolve(), False) not in cache._loaded


def test_int8_quantization_keeps_the_answers(trained_tiny_run):
    cache = PredictorCache()
    fp32 = cache.get(trained_tiny_run.model_dir).predict(REVIEWS)
    int8 = cache.get(trained_tiny_run.model_dir, int8=True)
    assert int8 is not cache.get(trained_tiny_run.model_dir)
    assert [p.label for p in int8.predict(REVIEWS)] == [p.label for p in fp32]


def test_a_folder_without_a_model(tmp_path):
    with pytest.raises(ModelError, match="no saved model"):
        resolve_model_dir(tmp_path)


def test_evaluation_reproduces_the_training_test_accuracy(trained_tiny_run):
    config = saved_training_config(trained_tiny_run.output_dir)
    scores = evaluate_saved_model(trained_tiny_run.output_dir, dataset=config.dataset, limits=evaluation_limits(config))
    assert scores["examples"] == trained_tiny_run.metrics["test"]["examples"]
    assert scores["accuracy"] == pytest.approx(trained_tiny_run.metrics["test"]["accuracy"], abs=0.005)
    assert scores["confusion_matrix"] == trained_tiny_run.metrics["test"]["confusion_matrix"]
