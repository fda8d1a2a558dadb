import json
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from ml.errors import ConfigError, MLError
from ml.training.pipeline import ReviewCollator, train_model
from tests.synthetic import tiny_config


def test_a_run_writes_model_tokenizer_config_history_and_metrics(trained_tiny_run):
    out = Path(trained_tiny_run.output_dir)
    model = Path(trained_tiny_run.model_dir)
    assert model == out / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training_config.json"):
        assert (model / name).is_file(), name
    for name in ("training_config.json", "log_history.json", "metrics.json"):
        assert (out / name).is_file(), name
    assert 1 <= len(list((out / "checkpoints").glob("checkpoint-*"))) <= 2  # save_total_limit
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(trained_tiny_run.metrics, default=str))
    assert metrics["device"].startswith("cpu") and metrics["precision"] == "fp32"


def test_the_tiny_model_learns_the_synthetic_sentiment(trained_tiny_run):
    test = trained_tiny_run.metrics["test"]
    assert test["accuracy"] >= 0.9
    assert test["examples"] == 100
    assert sum(map(sum, test["confusion_matrix"])) == 100
    assert test["roc_auc"] >= 0.9
    assert trained_tiny_run.metrics["train"]["samples_per_second"] > 0


def test_every_epoch_is_evaluated_and_the_loss_falls(trained_tiny_run):
    epochs = trained_tiny_run.metrics["epochs"]
    assert [round(e["epoch"]) for e in epochs] == [1, 2, 3, 4]
    history = json.loads((Path(trained_tiny_run.output_dir) / "log_history.json").read_text())
    losses = [h["loss"] for h in history if "loss" in h]
    assert losses[-1] < losses[0]


class Recorder:
    """A TrainingObserver that stops training after a number of evaluations."""

    def __init__(self, stop_after_evaluations=None):
        self.updates = []
        self.stop_after = stop_after_evaluations

    def on_progress(self, progress):
        self.updates.append(progress)

    def should_stop(self):
        done = sum(1 for u in self.updates if u.evaluation)
        return self.stop_after is not None and done >= self.stop_after


@pytest.mark.slow  # a tiny model trained twice: stopped, then resumed
def test_an_observer_sees_progress_and_can_stop_a_run_which_then_resumes(tmp_path, tiny_model_dir, synthetic_folder):
    config = tiny_config(tiny_model_dir, synthetic_folder, tmp_path / "run", num_train_epochs=3)
    recorder = Recorder(stop_after_evaluations=1)
    stopped = train_model(config, observer=recorder, progress_bar=False)
    assert stopped.stopped and stopped.model_dir is None and "test" not in stopped.metrics
    steps_per_epoch = 360 // 16 + 1
    assert stopped.last_checkpoint.endswith(f"checkpoint-{steps_per_epoch}")
    evaluated = [u for u in recorder.updates if u.evaluation]
    assert evaluated[0].evaluation["eval_accuracy"] >= 0 and evaluated[0].step == steps_per_epoch
    assert all(u.max_steps == 3 * steps_per_epoch for u in recorder.updates)
    assert recorder.updates[-1].eta_seconds is not None

    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train_model(config, progress_bar=False)

    partial = Path(config.output_dir) / "checkpoints" / "checkpoint-999"  # as left by a kill mid-write
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    resumed = train_model(config.replace(resume=True), progress_bar=False)
    assert resumed.metrics["resumed_from"] == stopped.last_checkpoint
    assert resumed.metrics["train"]["steps"] == 3 * steps_per_epoch
    assert [round(e["epoch"]) for e in resumed.metrics["epochs"]] == [1, 2, 3]
    assert resumed.model_dir and resumed.metrics["test"]["accuracy"] >= 0.8


def test_max_length_padding_pads_every_review_like_the_tutorial(tiny_model_dir):
    from transformers import AutoTokenizer

    from ml.config import TrainingConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    features = [{"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1], "label": 1, "length": 3}]
    fixed = ReviewCollator(tokenizer, TrainingConfig(max_length=64, padding="max_length"))(features)
    dynamic = ReviewCollator(tokenizer, TrainingConfig(pad_to_multiple_of=8))(features)
    assert fixed["input_ids"].shape == (1, 64) and dynamic["input_ids"].shape == (1, 8)
    assert "length" not in fixed and fixed["labels"].tolist() == [1]


def test_the_mask_settled_by_the_collator_gives_the_same_predictions_as_the_usual_one(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ml.config import TrainingConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, attn_implementation="sdpa").eval()

    def features(*reviews):
        return [{"input_ids": ids, "attention_mask": [1] * len(ids), "label": 0, "length": len(ids)} for ids in reviews]

    usual = ReviewCollator(tokenizer, TrainingConfig(overlap_steps=False), model_type="bert")
    ready = ReviewCollator(tokenizer, TrainingConfig(overlap_steps=True), model_type="bert")
    other_model = ReviewCollator(tokenizer, TrainingConfig(overlap_steps=True), model_type="modernbert")
    padded = features([101, 7, 8, 9, 10, 102], [101, 7, 102])
    unpadded = features([101, 7, 8, 102], [101, 9, 10, 102])
    assert usual(padded)["attention_mask"].shape == (2, 6) and other_model(padded)["attention_mask"].shape == (2, 6)
    assert ready(padded)["attention_mask"].shape == (2, 1, 1, 6)
    assert ready(padded)["attention_mask"][1, 0, 0].tolist() == [True, True, True, False, False, False]
    assert "attention_mask" not in ready(unpadded)  # nothing to mask: SDPA may use its fastest kernel
    with torch.inference_mode():
        for batch in (padded, unpadded):
            logits = [model(**{k: v for k, v in c(batch).items() if k != "labels"}).logits for c in (usual, ready)]
            torch.testing.assert_close(logits[0], logits[1])


def test_max_length_beyond_the_model_is_refused(tmp_path, tiny_model_dir, synthetic_folder):
    config = tiny_config(tiny_model_dir, synthetic_folder, tmp_path / "run", max_length=256)
    with pytest.raises(ConfigError, match=r"longer than .* can read \(128 tokens\)"):
        train_model(config, progress_bar=False)


@pytest.mark.parametrize("wrong", ["base_model", "dataset"])
def test_a_wrong_model_or_data_folder_is_reported_before_anything_starts(
    tmp_path, tiny_model_dir, synthetic_folder, wrong
):
    config = tiny_config(tiny_model_dir, synthetic_folder, tmp_path / "run").replace(
        **{wrong: str(tmp_path / "missing")}
    )
    with pytest.raises(MLError, match="does not exist"):
        train_model(config, progress_bar=False)
    assert not (tmp_path / "run").exists()  # refused before the output folder, the data or the model


class HostReads(TrainerCallback):
    """Counts reads of a tensor's value by Python (``bool(t)``, ``t.item()``, ...) inside each optimizer step.

    On a GPU each such read makes the CPU wait until the GPU has finished everything queued so far, so
    the next step cannot be queued while this one computes. Logging happens after ``on_step_end``, so a
    logging step's reads are not counted.
    """

    def __init__(self, monkeypatch):
        self.inside = False
        self.reads: list[int] = []
        for name in ("__bool__", "__float__", "__int__", "item", "tolist"):
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._counting(original))

    def _counting(self, original):
        def read(tensor, *args, **kwargs):
            if self.inside:
                self.reads[-1] += 1
            return original(tensor, *args, **kwargs)

        return read

    def on_step_begin(self, args, state, control, **kwargs):
        self.inside = True
        self.reads.append(0)

    def on_step_end(self, args, state, control, **kwargs):
        self.inside = False


@pytest.mark.parametrize("overlap", [True, False])
def test_overlapped_steps_never_wait_for_a_value_of_the_step(
    monkeypatch, tmp_path, tiny_model_dir, synthetic_folder, overlap
):
    # the fused optimizer keeps its step count in a tensor, so the optimizer reads nothing back either
    config = tiny_config(
        tiny_model_dir,
        synthetic_folder,
        tmp_path / "run",
        num_train_epochs=1,
        optimizer="adamw_torch_fused",
        overlap_steps=overlap,
        serving_check_reviews=0,
    )
    reads = HostReads(monkeypatch)
    train_model(config, callbacks=[reads], progress_bar=False)
    assert len(reads.reads) == 360 // 16 + 1
    if overlap:
        assert reads.reads == [0] * len(reads.reads)
    else:  # the Trainer's default NaN check of every step's loss
        assert min(reads.reads) >= 1


def test_on_a_gpu_the_trainer_copies_batches_without_blocking_and_can_compile(tmp_path):
    from ml.config import TrainingConfig
    from ml.hardware import Hardware
    from ml.training.pipeline import training_arguments

    gpu = Hardware(kind="cuda", name="a GPU", count=1, bf16=True)
    fast = training_arguments(
        TrainingConfig(torch_compile=True), tmp_path, precision="fp32", hardware=gpu, progress_bar=False
    )
    assert fast.accelerator_config.non_blocking and fast.dataloader_pin_memory
    assert not fast.logging_nan_inf_filter and fast.torch_compile
    tutorial = training_arguments(
        TrainingConfig(overlap_steps=False), tmp_path, precision="fp32", hardware=gpu, progress_bar=False
    )
    assert not tutorial.accelerator_config.non_blocking and tutorial.logging_nan_inf_filter
    assert not tutorial.torch_compile


def test_the_warmup_ratio_is_a_fraction_of_all_steps_and_one_cpu_process_keeps_the_default_backend(tmp_path):
    from ml.config import TrainingConfig
    from ml.hardware import Hardware
    from ml.training.pipeline import training_arguments

    cpu = Hardware(kind="cpu", name="a CPU", count=0, bf16=False)
    args = training_arguments(TrainingConfig(warmup_ratio=0.1), tmp_path, "fp32", cpu, progress_bar=False)
    assert args.get_warmup_steps(95) == 10  # 10% of 95 steps, rounded up
    assert args.ddp_backend is None and args.world_size == 1
    assert training_arguments(TrainingConfig(), tmp_path, "fp32", cpu, progress_bar=False).get_warmup_steps(95) == 0
