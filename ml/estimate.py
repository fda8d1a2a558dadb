"""How long a run will take and how much memory it will need, before it starts.

Nothing here loads a model or a review: the estimate is arithmetic on what is known beforehand (the
run's settings, the shape of the model, the lengths of the reviews) and on what an earlier run on the
same hardware *measured*. That makes it cheap enough to update on every keystroke of the launch form.

**Time.** Training a transformer costs about 6 floating-point operations (FLOPs) per weight per token
read: 2 for the forward pass (a multiply and an add per weight) and 4 for the backward pass, which
computes gradients for both the activations and the weights (Kaplan et al., 2020). Frozen layers skip
the weight half of the backward pass, and attention adds a little that grows with the review's length.
Scoring (validation, test) is the forward pass alone. We count the FLOPs of the new run and divide by
the FLOPs per second an earlier run on the same hardware achieved, phase by phase; the phases that are
not arithmetic (loading and tokenizing the reviews, the serving and behavioural checks) are scaled from
that run's measured seconds. The closer the earlier run's settings, the better the estimate: the page
says which run it is based on.

**Memory.** Training holds, for every weight, the weight itself, its gradient and the optimizer's two
running averages (AdamW), 16 bytes per trainable weight in 32-bit floats, plus the *activations* (every
layer's intermediate results, kept for the backward pass), which grow with batch size times review
length (Korthikanti et al., 2022: about 34 values per token per hidden unit per layer with fused
attention). What the process needs besides (Python, PyTorch, the reviews) is taken from the earlier
run's measured peak, or a typical figure when there is none.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ml.config import TrainingConfig
from ml.results import RunResults
from ml.training.run_measures import WORD_EDGES

GIB = 2**30
# Measured on the official IMDb training split (25,000 reviews, <br /> removed): review lengths in words
# (whitespace-separated), and tokens per word for the bert-base-uncased word pieces (MiniLM uses the same
# vocabulary): 1.286 on 3,000 reviews. The offline demo set is the same split, so it has the same profile.
IMDB_WORDS = {
    "edges": WORD_EDGES,
    "counts": [
        *(22, 548, 1185, 1271, 2987, 3913, 2729, 2075, 1496, 1293, 969, 872, 720, 638, 563),
        *(422, 410, 331, 323, 262, 236, 187, 175, 161, 466, 295, 421, 24, 6),
    ],
}
TOKENS_PER_WORD = 1.286
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
SOURCE_SIZES = {"imdb": (25_000, 25_000), "demo": (20_000, 5_000)}  # (train, test) before any limit
# Shapes of models a launch form may name before they were ever downloaded (their config.json).
KNOWN_MODELS = {
    "bert-base-uncased": {"hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 3072},
    "bert-large-uncased": {"hidden_size": 1024, "num_hidden_layers": 24, "intermediate_size": 4096},
    "distilbert-base-uncased": {"dim": 768, "n_layers": 6, "hidden_dim": 3072},
}
BEHAVIOUR_TEXTS = 204  # ml.evaluation.behaviour's battery: distinct texts scored once
TYPICAL_PROCESS_BYTES = {"cpu": int(1.5 * GIB), "cuda": int(0.5 * GIB)}  # besides weights and activations
ACTIVATION_VALUES = 34  # per token, per hidden unit, per layer (fused attention: no stored score matrix)
CLOSE_TO_LIMIT = 0.85


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    intermediate: int
    vocab: int

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        """From a Hugging Face ``config.json`` (BERT's names, or DistilBERT's)."""
        return cls(
            layers=int(config.get("num_hidden_layers") or config.get("n_layers")),
            hidden=int(config.get("hidden_size") or config.get("dim")),
            intermediate=int(config.get("intermediate_size") or config.get("hidden_dim")),
            vocab=int(config.get("vocab_size", 30522)),
        )

    @property
    def layer_weights(self) -> int:
        """Weights of one transformer layer: attention's four h x h projections and the two feed-forward ones."""
        return 4 * self.hidden * self.hidden + 2 * self.hidden * self.intermediate

    @property
    def weights(self) -> int:
        embeddings = (self.vocab + 512 + 2) * self.hidden
        return embeddings + self.layers * self.layer_weights


@dataclass(frozen=True)
class DataShape:
    """The reviews a run reads: how many before any limit, and how long they are."""

    train: int
    test: int
    words: dict  # {"edges": [...], "counts": [...]}: a histogram of review lengths in words
    tokens_per_word: float = TOKENS_PER_WORD
    added_train: int = 0  # reviews added to the training set (an uploaded data set)
    added_test: int = 0

    @classmethod
    def from_profile(cls, profile: dict) -> DataShape | None:
        """From the ``data.profile`` a run records (``ml.training.pipeline``); None when it lacks the sizes or
        lengths."""
        sizes = profile.get("source_sizes") or {}
        if not sizes or not profile.get("words"):
            return None
        return cls(
            train=sizes["train"],
            test=sizes["test"],
            words=profile["words"],
            tokens_per_word=profile.get("tokens_per_word") or TOKENS_PER_WORD,
        )

    def token_lengths(self, max_length: int) -> list[tuple[float, int]]:
        """(probability, tokens read) per length bin, each review cut at ``max_length``."""
        edges, counts = self.words["edges"], self.words["counts"]
        total = sum(counts) or 1
        lengths = []
        for low, high, count in zip(edges, edges[1:], counts, strict=False):
            tokens = math.ceil((low + high) / 2 * self.tokens_per_word) + SPECIAL_TOKENS
            lengths.append((count / total, min(tokens, max_length)))
        return lengths

    def mean_tokens(self, max_length: int) -> float:
        return sum(p * tokens for p, tokens in self.token_lengths(max_length))

    def padded_tokens(self, config: TrainingConfig) -> float:
        """Tokens per review the model computes in training, padding included."""
        if config.padding == "max_length":
            return float(config.max_length)
        lengths = self.token_lengths(config.max_length)
        if config.group_by_length:  # batches of similar lengths: hardly any padding
            per_review = sum(p * t for p, t in lengths)
        else:  # each batch is padded to its longest review: the expected maximum of `batch` draws
            per_review, below = 0.0, 0.0
            for p, tokens in sorted(lengths, key=lambda pair: pair[1]):
                per_review += ((below + p) ** config.train_batch_size - below**config.train_batch_size) * tokens
                below += p
        return per_review + (config.pad_to_multiple_of - 1) / 2 if config.pad_to_multiple_of > 1 else per_review


@dataclass(frozen=True)
class Hardware:
    """The worker: its device, and what it can give a run (``ml.hardware.machine_profile``)."""

    kind: str  # cuda, mps, cpu
    name: str
    memory_bytes: int | None = None  # the device's memory on a GPU, else the machine's (or container's)
    disk_free_bytes: int | None = None

    @classmethod
    def from_profile(cls, profile: dict) -> Hardware:
        device_memory = profile.get("device_memory_bytes") if profile.get("kind") == "cuda" else None
        return cls(
            kind=profile.get("kind", "cpu"),
            name=profile.get("name", ""),
            memory_bytes=device_memory or profile.get("memory_bytes"),
            disk_free_bytes=profile.get("disk_free_bytes"),
        )


@dataclass(frozen=True)
class Measured:
    """What an earlier run on the same hardware measured (its results, ``ml.results``), to scale from."""

    run_id: int | None
    config: TrainingConfig
    data: DataShape
    model: ModelShape
    seconds: dict  # phases: prepare, train, validation, test, checks, total
    peak_bytes: int | None

    @property
    def rates(self) -> dict[str, float]:
        """FLOPs per second of training and of scoring, as that run achieved them."""
        work = Work(self.config, self.data, self.model)
        scoring = work.validation_flops + work.test_flops
        rates = {"train": work.train_flops / max(self.seconds.get("train") or 0, 1e-9)}
        scored = (self.seconds.get("validation") or 0) + (self.seconds.get("test") or 0)
        rates["score"] = scoring / scored if scored > 0 and scoring > 0 else rates["train"] * 3
        return rates


def measured_from_results(results: RunResults, config: dict, *, run_id: int | None = None) -> Measured | None:
    """What a finished run's results say the estimate can scale from; None for a run that lacks them (saved
    by an older version) or timed only part of its work (it was resumed)."""
    data = DataShape.from_profile(results.data.profile)
    if data is None or not results.seconds.train or results.resumed_from:
        return None
    try:
        model = ModelShape.from_config(results.model_shape)
        training = TrainingConfig.from_dict(config)
    except (ValueError, TypeError):  # a ConfigError is a ValueError
        return None
    memory = results.memory.training
    return Measured(
        run_id=run_id,
        config=training,
        data=data,
        model=model,
        seconds=results.seconds.to_json(),
        peak_bytes=memory.device_peak_bytes if results.hardware.kind == "cuda" else memory.peak_bytes,
    )


@dataclass
class Estimate:
    seconds: float | None  # None when no earlier run on this hardware measured a speed
    phases: dict = field(default_factory=dict)
    peak_bytes: int = 0
    disk_bytes: int = 0
    memory_bytes: int | None = None  # what the worker has
    disk_free_bytes: int | None = None
    basis: str = ""
    warnings: list[str] = field(default_factory=list)
    reviews: dict = field(default_factory=dict)  # train, validation, test, tokens per review

    def to_dict(self) -> dict:
        return asdict(self)


class Work:
    """The arithmetic a run does, in FLOPs, from its settings, its data and its model."""

    def __init__(self, config: TrainingConfig, data: DataShape, model: ModelShape):
        self.config, self.data, self.model = config, data, model
        self.validation = min(
            max(1, round(data.train * config.validation_fraction)), config.max_validation_examples or data.train
        )
        self.train = min(data.train - self.validation, config.max_train_examples or data.train) + data.added_train
        self.test = min(data.test, config.max_test_examples or data.test) + data.added_test
        self.mean_tokens = data.mean_tokens(config.max_length)

    def _per_token(self, *, backward: bool, tokens: float) -> float:
        m, frozen = self.model, min(self.config.frozen_layers, self.model.layers)
        attention = 4 * tokens * m.hidden  # scores and the weighted sum, per layer, forward
        forward = m.layers * (2 * m.layer_weights + attention)
        if not backward:
            return forward
        return forward + (m.layers - frozen) * (4 * m.layer_weights + 2 * attention)

    @property
    def steps(self) -> int:
        per_step = self.config.train_batch_size * self.config.gradient_accumulation_steps
        return math.ceil(math.ceil(self.train / per_step) * self.config.num_train_epochs)

    @property
    def train_tokens(self) -> float:
        return self.train * self.config.num_train_epochs * self.data.padded_tokens(self.config)

    @property
    def train_flops(self) -> float:
        padded = self.data.padded_tokens(self.config)
        return self.train_tokens * self._per_token(backward=True, tokens=padded)

    @property
    def evaluations(self) -> int:
        if self.config.eval_strategy == "epoch":
            return math.ceil(self.config.num_train_epochs)
        if self.config.eval_strategy == "steps":
            return self.steps // max(self.config.eval_steps, 1)
        return 0

    @property
    def validation_flops(self) -> float:
        per_token = self._per_token(backward=False, tokens=self.mean_tokens)
        return self.evaluations * self.validation * self.mean_tokens * per_token

    @property
    def test_flops(self) -> float:
        return self.test * self.mean_tokens * self._per_token(backward=False, tokens=self.mean_tokens)

    @property
    def check_flops(self) -> float:
        """The serving check reads its reviews once per runtime (three); the behavioural checks, their texts."""
        reviews = min(self.config.serving_check_reviews, self.test)
        short = 40  # the behavioural texts are a sentence or two, but for a few long ones
        return (3 * reviews * self.mean_tokens + BEHAVIOUR_TEXTS * short) * self._per_token(
            backward=False, tokens=self.mean_tokens
        )

    def peak_bytes(self, precision: str, kind: str) -> int:
        """Weights and optimizer state, plus the activations of the largest batch."""
        m, frozen = self.model, min(self.config.frozen_layers, self.model.layers)
        trainable = (m.layers - frozen) * m.layer_weights + (0 if frozen else m.weights - m.layers * m.layer_weights)
        states = 4 * m.weights + 12 * trainable  # weights; gradients and AdamW's two averages
        if self.config.padding == "max_length":
            longest = self.config.max_length
        else:
            longest = max(t for p, t in self.data.token_lengths(self.config.max_length) if p > 0)
        value_bytes = 2 if precision in ("bf16", "fp16") and kind != "cpu" else 4
        activations = ACTIVATION_VALUES * self.config.train_batch_size * longest * m.hidden * m.layers * value_bytes
        return int(states + activations)

    def disk_bytes(self) -> int:
        """Checkpoints (weights and optimizer), the model, its ONNX exports (32-bit and int8)."""
        weights = 4 * self.model.weights
        checkpoint = weights * 3
        kept = self.config.save_total_limit if self.config.save_strategy != "no" else 0
        exports = weights * 1.25 if self.config.serving_check_reviews else 0
        return int(kept * checkpoint + weights + exports)


def scoring_in_training_tokens(config: TrainingConfig, *, data: DataShape, model: ModelShape) -> tuple[float, float]:
    """One validation, and the scoring after the last validation (the test reviews, the serving and
    behavioural checks), each counted in training tokens of the same run: what that arithmetic would
    train. A live "time left" prices them at the speed the run's own steps go.

    Counting training alone, a CPU run that scores 5,000 test reviews showed about 30% too little after
    its first steps, then less and less, and nothing at all while it scored (bench/eta_accuracy.py).
    Scoring is the forward pass alone, and a CPU computes it at about the rate it trains; a GPU scores
    faster, where this time is small.
    """
    work = Work(config, data, model)
    per_token = work.train_flops / work.train_tokens if work.train_tokens else 0.0
    if per_token <= 0:
        return 0.0, 0.0
    one_validation = work.validation_flops / work.evaluations if work.evaluations else 0.0
    checks = work.check_flops if config.serving_check_reviews else 0.0
    return one_validation / per_token, (work.test_flops + checks) / per_token


def scoring_in_training_steps(config: TrainingConfig, *, data: DataShape, model: ModelShape) -> float:
    """The scoring after the last training step (its last validation, then ``scoring_in_training_tokens``'
    second part) in training steps."""
    work = Work(config, data, model)
    validation, after = scoring_in_training_tokens(config, data=data, model=model)
    return (validation + after) * work.steps / work.train_tokens if work.train_tokens else 0.0


def padded_tokens_per_epoch(
    lengths: list[int], *, batch_size: int, grouped: bool, pad_to_multiple_of: int = 0, fixed_length: int = 0
) -> float:
    """The tokens one epoch computes, padding included: each batch is as long as its longest review (or
    ``fixed_length``), rounded up to ``pad_to_multiple_of``. Batches are drawn as the Trainer's samplers
    draw them, with a fixed seed: at random, or, ``grouped``, from shuffled groups of 50 batches sorted
    by length (transformers' ``LengthGroupedSampler``). A different shuffle changes the sum very little.
    """
    import numpy as np

    if not lengths:
        return 0.0
    if fixed_length:
        return float(len(lengths) * fixed_length)
    order = np.random.default_rng(0).permutation(np.asarray(lengths))
    if grouped:
        group = 50 * batch_size
        order = np.concatenate([np.sort(order[i : i + group])[::-1] for i in range(0, len(order), group)])
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        longest = int(batch.max())
        if pad_to_multiple_of > 1:
            longest = -(-longest // pad_to_multiple_of) * pad_to_multiple_of
        total += longest * len(batch)
    return total


def run_estimate(
    config: TrainingConfig,
    *,
    data: DataShape,
    model: ModelShape,
    hardware: Hardware,
    precision: str,
    measured: Measured | None,
) -> Estimate:
    """The time, peak memory and disk a run of ``config`` needs on ``hardware``, and whether it fits."""
    work = Work(config, data, model)
    estimate = Estimate(
        seconds=None,
        memory_bytes=hardware.memory_bytes,
        disk_free_bytes=hardware.disk_free_bytes,
        reviews={
            "train": work.train,
            "validation": work.validation,
            "test": work.test,
            "tokens_per_review": round(work.mean_tokens, 1),
            "steps": work.steps,
        },
    )
    process = TYPICAL_PROCESS_BYTES.get(hardware.kind, TYPICAL_PROCESS_BYTES["cpu"])
    if measured is not None:
        estimate.phases = _phases(work, measured)
        estimate.seconds = round(sum(estimate.phases.values()), 1)
        earlier = Work(measured.config, measured.data, measured.model)
        if measured.peak_bytes:
            process = max(measured.peak_bytes - earlier.peak_bytes(precision, hardware.kind), 0)
        estimate.basis = _basis(config, measured)
    else:
        estimate.basis = (
            "No run has finished on this worker's hardware yet, so there is no measured speed to estimate the "
            "time from; the first run measures it. The memory is the arithmetic alone."
        )
    estimate.peak_bytes = process + work.peak_bytes(precision, hardware.kind)
    estimate.disk_bytes = work.disk_bytes()
    estimate.warnings = _warnings(estimate, hardware)
    return estimate


def _phases(work: Work, measured: Measured) -> dict[str, float]:
    earlier = Work(measured.config, measured.data, measured.model)
    rates, seconds = measured.rates, measured.seconds
    reviews_read = (work.data.train + work.data.test) / max(measured.data.train + measured.data.test, 1)
    same_source = (work.config.dataset, work.config.added_data) == (measured.config.dataset, measured.config.added_data)
    checks = seconds.get("checks") or 0
    if earlier.check_flops and work.config.serving_check_reviews:
        checks *= work.check_flops / earlier.check_flops
    elif not work.config.serving_check_reviews:
        checks = 0.0
    phases = {
        "prepare": (seconds.get("prepare") or 0) * (1 if same_source else reviews_read),
        "train": work.train_flops / rates["train"],
        "validation": work.validation_flops / rates["score"],
        "test": work.test_flops / rates["score"],
        "checks": checks,
    }
    accounted = sum(seconds.get(name) or 0 for name in phases)
    phases["other"] = max((seconds.get("total") or 0) - accounted, 0.0)  # saving, writing metrics
    return {name: round(value, 1) for name, value in phases.items()}


def _basis(config: TrainingConfig, measured: Measured) -> str:
    differs = [
        name
        for name in ("base_model", "dataset", "max_length", "train_batch_size", "precision", "padding")
        if getattr(config, name) != getattr(measured.config, name)
    ]
    run = f"run #{measured.run_id}" if measured.run_id else "an earlier run"
    if not differs:
        return f"Scaled from the speed {run} measured on the same hardware, with the same model and data."
    return (
        f"Scaled from the speed {run} measured on the same hardware; it differs in {', '.join(differs)}, "
        "so the estimate is rougher."
    )


def _warnings(estimate: Estimate, hardware: Hardware) -> list[str]:
    warnings = []
    where = "the GPU's memory" if hardware.kind == "cuda" else "the worker's memory"
    if hardware.memory_bytes:
        share = estimate.peak_bytes / hardware.memory_bytes
        need, have = estimate.peak_bytes / GIB, hardware.memory_bytes / GIB
        if share > 1:
            warnings.append(
                f"This run will not fit: it needs about {need:.1f} GiB and {where} is {have:.1f} GiB. "
                "Lower the batch size or the max length, or freeze layers."
            )
        elif share > CLOSE_TO_LIMIT:
            warnings.append(f"Close to the limit: about {need:.1f} GiB of {where}'s {have:.1f} GiB.")
    if hardware.disk_free_bytes is not None and estimate.disk_bytes > hardware.disk_free_bytes:
        warnings.append(
            f"Not enough disk: checkpoints and exports need about {estimate.disk_bytes / GIB:.1f} GiB and "
            f"{hardware.disk_free_bytes / GIB:.1f} GiB is free. Keep fewer checkpoints (save total limit)."
        )
    return warnings
