import os
import shutil
from pathlib import Path

import pytest

from ml.errors import ModelError
from ml.evaluation.test_scores import evaluate_saved_model, evaluation_limits, saved_training_config
from ml.results import ServingCheck
from ml.serving.inference import PredictorCache
from ml.serving.labeller import resolve_model_dir

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
    assert len(cache._loaded) == 2 and (copies[1].resolve(), "pytorch") not in cache._loaded


@pytest.mark.parametrize("runtime", ["pytorch-int8", "onnx-fp32", "onnx-int8"])
def test_every_runtime_keeps_the_answers(trained_tiny_run, runtime):
    cache = PredictorCache()
    pytorch = cache.get(trained_tiny_run.model_dir).predict(REVIEWS)
    other = cache.get(trained_tiny_run.model_dir, runtime=runtime)
    assert other is not cache.get(trained_tiny_run.model_dir) and other.runtime == runtime
    assert [p.label for p in other.predict(REVIEWS)] == [p.label for p in pytorch]


def test_a_folder_without_a_model(tmp_path):
    with pytest.raises(ModelError, match="no saved model"):
        resolve_model_dir(tmp_path)


def test_evaluation_reproduces_the_training_test_accuracy(trained_tiny_run):
    config = saved_training_config(trained_tiny_run.output_dir)
    scores = evaluate_saved_model(trained_tiny_run.output_dir, dataset=config.dataset, limits=evaluation_limits(config))
    assert scores["examples"] == trained_tiny_run.metrics["test"]["examples"]
    assert scores["accuracy"] == pytest.approx(trained_tiny_run.metrics["test"]["accuracy"], abs=0.005)
    assert scores["confusion_matrix"] == trained_tiny_run.metrics["test"]["confusion_matrix"]


def test_training_ends_with_the_serving_check_of_every_runtime(trained_tiny_run):
    check = trained_tiny_run.metrics["serving"]
    assert check["reviews"] == 100  # the whole (small) test split
    assert check["export"]["max_difference"]["fp32"] <= 1e-4 and check["export"]["checked_texts"] == 100
    assert set(check["runtimes"]) == {"pytorch", "onnx-fp32", "onnx-int8"}
    reference = check["runtimes"]["pytorch"]["accuracy"]
    for scores in check["runtimes"].values():
        assert 0 <= scores["accuracy"] <= 1 and scores["ms_per_review"] > 0 and scores["reviews_per_second"] > 0
        assert scores["accuracy_loss_points"] == pytest.approx(100 * (reference - scores["accuracy"]), abs=0.01)
    assert (Path(trained_tiny_run.model_dir) / "onnx" / "model-int8.onnx").is_file()


def measured(**runtimes) -> ServingCheck:
    """A serving check's runtimes: name=(points lost, ms per review)."""
    scores = {name.replace("_", "-"): {"accuracy_loss_points": loss, "ms_per_review": ms}
              for name, (loss, ms) in runtimes.items()}  # fmt: skip
    return ServingCheck.from_json({"runtimes": scores})


def test_auto_serves_the_fastest_runtime_within_the_accuracy_budget():
    from ml.serving.choice import serving_runtime

    def auto(check):
        return serving_runtime(check, setting="auto", max_loss_points=0.5)

    assert auto(measured(pytorch=(0, 20), onnx_fp32=(0, 15), onnx_int8=(0.3, 9))) == "onnx-int8"
    assert auto(measured(pytorch=(0, 20), onnx_fp32=(0, 15), onnx_int8=(0.6, 9))) == "onnx-fp32"  # int8 too inexact
    assert auto(measured(pytorch=(0, 20), onnx_fp32=(0, 21), onnx_int8=(-0.2, 30))) == "pytorch"  # int8 scored better
    assert auto(measured(pytorch=(0, 20), onnx_fp32=(0, 20))) == "pytorch"  # a tie keeps PyTorch
    assert auto(None) == auto(ServingCheck(error="no engine")) == auto(measured(onnx_int8=(0, 1))) == "pytorch"
    forced = serving_runtime(measured(pytorch=(0, 20), onnx_int8=(0, 9)), setting="pytorch-int8", max_loss_points=0.5)
    assert forced == "pytorch-int8"


@pytest.mark.parametrize("runtime", ["pytorch", "onnx-int8"])
def test_batches_side_by_side_on_one_core_each_give_the_same_answers(trained_tiny_run, runtime):
    import torch

    predictor = PredictorCache().get(trained_tiny_run.model_dir, runtime=runtime)
    texts = REVIEWS * 7
    before = torch.get_num_threads()
    try:
        alone = predictor.positive_probabilities(texts, batch_size=4)
        side_by_side = predictor.positive_probabilities(texts, batch_size=4, threads=2, cores=1)
    finally:
        torch.set_num_threads(before)
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
