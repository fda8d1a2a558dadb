"""Named starting points for a run; any field can be overridden on top.

- ``tutorial``: the original tutorial's recipe, kept as the honest baseline: bert-base-uncased, every
  review truncated and padded to 512 tokens, batch 8, 3 epochs, weight decay 0.01, evaluated every epoch.
- ``fast``: the same model trained the way a GPU likes it: mixed precision (bf16, or fp16 where bf16 is
  missing), dynamic padding to a multiple of 64 with length-grouped batches (little work on padding, few
  distinct shapes), fused SDPA attention, fused AdamW, a larger batch, batches prepared by helper
  processes while the GPU computes, no wait for the GPU between steps (``overlap_steps``), evaluation
  sorted by length, and head+tail truncation, which is also more accurate on IMDb.
  ``bench/train_throughput.py`` measures it against ``tutorial``.
- ``smoke``: a few minutes on a 2-core CPU, fully offline: the bundled MiniLM, the demo data, 2,000
  training reviews at 256 tokens for one epoch, a checkpoint every 50 steps, scored on 1,000 test
  reviews.
- ``cpu``: the best model a 2-core CPU without a GPU trains in about half an hour, on the official IMDb
  splits: the bundled MiniLM, head+tail truncation to 256 tokens (4,000 reviews at 256 scored 0.891
  where 8,000 at 128 scored 0.881), the embeddings and two lowest layers frozen (backpropagation stops
  above them: 1.23-1.35x the reviews per second), 'auto' precision, which is bf16 autocast on CPUs that
  compute bf16 in hardware (1.33x; both together 1.88x), 18,000 training reviews for one epoch, dropout
  off, the 600 counterfactual pairs (``ml.data.augmentation``) added four times and once more with typos,
  which teach it negation, short reviews of many kinds of thing and misspelt verdicts, the classification
  head fitted on 2,000 reviews' features before fine-tuning (``ml.training.head_first``: 0.906 against 0.892
  on IMDb in a screen of 6,000 reviews), scored on a seeded 5,000 of the official test reviews.
  ``bench/cpu_recipe.py`` measures the speed of each choice and ``bench/out_of_domain.py`` what each does
  outside IMDb; the README's "Measured" section has the accuracy and wall time of each try.
"""

from __future__ import annotations

from typing import Any

from ml.config import TrainingConfig
from ml.errors import ConfigError

# what each preset is for, in a few words: the launch form's and the train command's help read it
PRESET_SUMMARIES = {
    "tutorial": "the original, slow",
    "fast": "GPU",
    "smoke": "minutes on a CPU, offline",
    "cpu": "the best model a CPU trains in about half an hour, official IMDb",
}
PRESETS: dict[str, dict[str, Any]] = {
    "tutorial": {
        "base_model": "bert-base-uncased",
        "max_length": 512,
        "truncation": "head",
        "padding": "max_length",
        "train_batch_size": 8,
        "eval_batch_size": 8,
        "num_train_epochs": 3.0,
        "learning_rate": 2e-5,
        "weight_decay": 0.01,
        "precision": "fp32",
        "attention": "eager",
        "optimizer": "adamw_torch",
        "overlap_steps": False,
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
    },
    "fast": {
        "base_model": "bert-base-uncased",
        "max_length": 512,
        "truncation": "head_tail",
        "padding": "dynamic",
        "pad_to_multiple_of": 64,
        "group_by_length": True,
        "train_batch_size": 32,
        "eval_batch_size": 256,
        "num_train_epochs": 3.0,
        "learning_rate": 4e-5,
        "warmup_ratio": 0.06,
        "weight_decay": 0.01,
        "precision": "auto",
        "attention": "sdpa",
        "optimizer": "adamw_torch_fused",
        "dataloader_workers": 4,
        "logging_steps": 50,
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
    },
    "smoke": {
        "base_model": "minilm",
        "dataset": "demo",
        "max_length": 256,
        "truncation": "head_tail",
        "padding": "dynamic",
        "group_by_length": True,
        "train_batch_size": 16,
        "eval_batch_size": 64,
        "num_train_epochs": 1.0,
        "learning_rate": 1e-4,
        "warmup_ratio": 0.1,
        "weight_decay": 0.01,
        "precision": "auto",
        "attention": "sdpa",
        "dropout": 0.0,
        "optimizer": "adamw_torch",
        "max_train_examples": 2000,
        "max_validation_examples": 200,
        "max_test_examples": 1000,
        "eval_strategy": "epoch",
        # a checkpoint every 50 of its 125 steps: a worker stopped mid-run resumes instead of starting over
        "save_strategy": "steps",
        "save_steps": 50,
        "logging_steps": 10,
    },
}

# smoke scaled up to half an hour on a 2-core CPU with AVX-512 BF16 (what each change buys: README,
# "Measured"); 'auto' precision, as smoke's, is bf16 there and fp32 on CPUs that would emulate bf16
PRESETS["cpu"] = {
    **PRESETS["smoke"],
    "dataset": "imdb",
    "frozen_layers": 2,
    # short reviews and negation: the counterfactual pairs, four times (what each choice bought outside IMDb:
    # README, "Measured"; bench/out_of_domain.py)
    "counterfactual_pairs": 4,
    "pairs_with_typos": 1,  # and once more with typos: a misspelt verdict word is still the verdict
    # the head fitted on the frozen model's features before fine-tuning (LP-FT, ml.training.head_first)
    "head_first_reviews": 2000,
    "max_train_examples": 18000,
    "max_validation_examples": 500,
    "max_test_examples": 5000,
}


def presets_described() -> str:
    """One line for a help text: 'tutorial (the original, slow), fast (GPU), ...'."""
    return ", ".join(f"{name} ({summary})" for name, summary in PRESET_SUMMARIES.items())


def config_from_preset(name: str, **overrides: Any) -> TrainingConfig:
    """The preset's config with ``overrides`` applied (``None`` values mean "keep the preset's")."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    chosen = {key: value for key, value in overrides.items() if value is not None}
    return TrainingConfig.from_dict({**PRESETS[name], **chosen})


# What a distilled student changes in its teacher's settings (``ml.training.distillation``; each choice measured
# against its teacher by bench/distil.py, the README's "Measured" has the table): half the teacher's layers
# (``keep_layers`` None), spread from the first to the last (the lowest half lost 5 points more), reading three
# quarters of the teacher's tokens (``max_length`` None: 192 for 256; with 3 of 6 layers alone one review took 0.52
# of the teacher's time, at 192 tokens 0.44),
# learning from the teacher's answers at temperature 2 beside the true labels, on every training review (the
# teacher's run may have used fewer: the student learns from more, each at under half the cost).
STUDENT: dict[str, Any] = {
    "keep_layers": None,
    "keep_layers_from": "spread",
    "max_length": None,
    "frozen_layers": 1,
    "distillation_temperature": 2.0,
    "distillation_weight": 0.5,
    "max_train_examples": None,
    "head_first_reviews": 0,  # it starts from its teacher's head, already fitted
}
# the teacher's own run's: its folder, the users' corrections it was given, its early stopping
NOT_INHERITED = ("output_dir", "resume", "corrections_file", "train_on_corrections", "added_data")
NOT_INHERITED += ("early_stopping_patience",)


def config_for_student(
    teacher: TrainingConfig, teacher_dir: str, teacher_layers: int, **overrides: Any
) -> TrainingConfig:
    """A student's config: its teacher's settings (the data, how reviews are read, the checks), the ``STUDENT``
    recipe over them, then ``overrides`` (``None``: keep). It starts from the weights of the teacher's
    ``teacher_layers`` layers in ``teacher_dir`` and learns from its answers; what belonged to the teacher's own
    run (its folder, corrections) is not copied. A student keeps fewer layers than its teacher, or it is no faster."""
    chosen = {key: value for key, value in overrides.items() if value is not None}
    base = {key: value for key, value in teacher.to_dict().items() if key not in NOT_INHERITED}
    settings = {**base, **STUDENT, "base_model": teacher_dir, "teacher_model": teacher_dir, **chosen}
    if settings["keep_layers"] is None:
        settings["keep_layers"] = max((teacher_layers + 1) // 2, 1)
    if settings["max_length"] is None:
        settings["max_length"] = max(teacher.max_length * 3 // 4, 16)
    if not 1 <= settings["keep_layers"] < teacher_layers:
        raise ConfigError(
            problems=[("keep_layers", f"a student keeps between 1 and {teacher_layers - 1} of its teacher's "
                       f"{teacher_layers} layers (got {settings['keep_layers']}): with all of them it is no faster")]
        )  # fmt: skip
    if "frozen_layers" not in chosen:  # some kept layer must learn
        settings["frozen_layers"] = min(settings["frozen_layers"], settings["keep_layers"] - 1)
    return TrainingConfig.from_dict(settings)
