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


def test_training_measures_int8_against_fp32_on_the_test_reviews(trained_tiny_run):
    check = trained_tiny_run.metrics["int8"]
    assert check["reviews"] == 100  # the whole (small) test split
    assert 0 <= check["int8_accuracy"] <= 1 and 0 <= check["fp32_accuracy"] <= 1
    assert check["accuracy_loss_points"] == pytest.approx(100 * (check["fp32_accuracy"] - check["int8_accuracy"]))
    assert check["fp32_reviews_per_second"] > 0 and check["int8_reviews_per_second"] > 0


def test_int8_is_chosen_only_where_it_is_accurate_and_faster():
    from ml.serving_choice import int8_pays

    assert int8_pays({"accuracy_loss_points": 0.2, "speedup": 1.8}, max_loss_points=0.5)
    assert int8_pays({"accuracy_loss_points": -0.3, "speedup": 1.5}, max_loss_points=0.5)  # int8 scored better
    assert not int8_pays({"accuracy_loss_points": 0.6, "speedup": 3.0}, max_loss_points=0.5)
    assert not int8_pays({"accuracy_loss_points": 0.0, "speedup": 1.05}, max_loss_points=0.5)  # too little gain
    assert not int8_pays(None, max_loss_points=0.5) and not int8_pays({"error": "no engine"}, max_loss_points=0.5)


def test_batches_side_by_side_give_the_same_answers(trained_tiny_run):
    from ml.inference import one_core_per_batch

    predictor = PredictorCache().get(trained_tiny_run.model_dir)
    texts = REVIEWS * 7
    alone = predictor.positive_probabilities(texts, batch_size=4)
    with one_core_per_batch() as cores:
        assert cores >= 1
        side_by_side = predictor.positive_probabilities(texts, batch_size=4, threads=2)
    assert side_by_side == pytest.approx(alone, abs=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_progress_is_reported_in_the_calling_thread_as_batches_finish(trained_tiny_run, threads):
    import threading

    predictor = PredictorCache().get(trained_tiny_run.model_dir)
    seen = []
    predictor.positive_probabilities(
        REVIEWS * 7, batch_size=4, threads=threads, progress=lambda done: seen.append((done, threading.get_ident()))
    )
    assert [done for done, _ in seen] == [4, 8, 12, 16, 20, 21]
    assert {thread for _, thread in seen} == {threading.get_ident()}
