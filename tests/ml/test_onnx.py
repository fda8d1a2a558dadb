"""The ONNX export: checked against PyTorch, answering without PyTorch (the command, on a run: tests/commands)."""

import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from ml.errors import ModelError
from ml.serving.inference import Predictor
from ml.serving.onnx_export import FP32_TOLERANCE, onnx_export
from ml.serving.onnx_inference import OnnxPredictor, session_open
from tests.synthetic import synthetic_reviews


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_tiny_run):
    """A copy of the tiny trained model, exported (the shared original stays as it is)."""
    folder = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(trained_tiny_run.model_dir, folder)
    texts = list(synthetic_reviews(60, seed=7)["text"]) + list(synthetic_reviews(20, seed=8, long=True)["text"])
    return folder, onnx_export(folder, check_texts=texts), texts


def test_the_fp32_export_answers_as_pytorch_does_and_int8_nearly(exported):
    folder, report, _ = exported
    assert report.checked_texts == 80
    assert report.max_difference["fp32"] <= FP32_TOLERANCE
    assert report.label_agreement["fp32"] == 1.0 and report.label_agreement["int8"] >= 0.95
    assert (folder / "onnx" / "model.onnx").is_file() and (folder / "onnx" / "model-int8.onnx").is_file()
    assert not (folder / "onnx" / "model-unoptimized.onnx").exists() and (folder / "onnx" / "export.json").is_file()


def test_each_layernorm_stays_apart_from_its_residual_addition_in_the_file_and_once_loaded(exported, tmp_path):
    """ONNX Runtime's fused SkipLayerNormalization is several times slower on the CPU than the two operations
    apart: neither the export nor a session loading it fuses them; the other fusions are still made."""
    import onnx

    folder, _, _ = exported
    int8 = folder / "onnx" / "model-int8.onnx"
    loaded = tmp_path / "as-loaded.onnx"
    session_open(int8, 2, graph_copy=loaded)
    for graph in (folder / "onnx" / "model.onnx", int8, loaded):
        operations = Counter(node.op_type for node in onnx.load(str(graph), load_external_data=False).graph.node)
        assert operations["SkipLayerNormalization"] == 0 and operations["LayerNormalization"] >= 4, (graph, operations)
        assert operations["Attention"] + operations["QAttention"] >= 2 and operations["BiasGelu"] >= 2, operations


def test_threads_spin_between_operations_only_when_the_answer_has_every_core_and_stop_when_it_ends(exported):
    from ml.hardware import cpu_cores

    folder, _, _ = exported
    int8 = folder / "onnx" / "model-int8.onnx"
    every, one = session_open(int8, max(2, cpu_cores())), session_open(int8, 1)
    assert every.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert one.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    for session in (every, one):
        assert session.get_session_options().get_session_config_entry("session.force_spinning_stop") == "1"
    if cpu_cores() > 2:  # a share of the cores (two of several) sleeps between operations
        shared = session_open(int8, 2).get_session_options()
        assert shared.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_long_reviews_are_cut_as_in_training_head_and_tail(exported):
    folder, _, _ = exported
    long = list(synthetic_reviews(5, seed=9, long=True)["text"])
    torch_probs = Predictor(folder).positive_probabilities(long)
    onnx_probs = OnnxPredictor(folder, variant="fp32").positive_probabilities(long)
    assert np.abs(torch_probs - onnx_probs).max() <= FP32_TOLERANCE


def test_answers_come_in_order_in_parallel_batches_too(exported):
    folder, _, texts = exported
    predictor = OnnxPredictor(folder, variant="int8")
    one = predictor.positive_probabilities(texts, batch_size=8)
    reported = []
    two = predictor.positive_probabilities(texts, batch_size=8, threads=2, progress=reported.append)
    assert np.allclose(one, two, atol=1e-6) and reported[-1] == len(texts)
    [answer] = predictor.predict([texts[0]])
    assert answer.label in {"positive", "negative"} and 0.5 <= answer.probability <= 1


def test_answering_through_onnx_loads_neither_torch_nor_transformers(exported):
    folder, _, _ = exported
    code = (
        "import sys; from ml.serving.onnx_inference import OnnxPredictor; "
        f"print(OnnxPredictor({str(folder)!r}).predict(['a fine film'])[0].label); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers'}))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    label, heavy = output.stdout.strip().splitlines()[-2:]
    assert label in {"positive", "negative"} and heavy == "[]"


def test_a_model_without_an_export_says_what_to_run(trained_tiny_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained_tiny_run.model_dir, folder, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(ModelError, match="has no ONNX export"):
        OnnxPredictor(folder)
