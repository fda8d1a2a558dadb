"""Fine-tuning: the tutorial's pipeline, end to end, with the Hugging Face ``Trainer``.

What happens, in order:

1. pick the device (GPU, Apple GPU or CPU) and numeric precision;
2. load the reviews and carve train / validation / test splits (``ml.data.sources``);
3. load the pre-trained model with a fresh classification head, and its tokenizer (``ml.base_models``); a
   distilled **student** loads its teacher, head included, and keeps fewer of its layers
   (``ml.training.distillation``);
4. tokenize every review (``ml.data.tokenization``); a student's teacher answers its training reviews;
5. train: for each batch the **forward pass** computes the model's predictions, the **loss**
   (cross-entropy: how wrong the predicted probabilities are) measures the error, **backpropagation**
   computes how each weight should change to reduce it (the gradients), and the optimizer applies that
   change, scaled by the learning rate. The ``Trainer`` runs this loop, and **Accelerate** underneath
   places model and batches on the device and handles mixed precision and several GPUs; **PyTorch** does
   the tensor arithmetic;
6. after each epoch, evaluate on the validation set and write a **checkpoint** (weights, optimizer and
   scheduler state) to resume from (``ml.training.checkpoints`` finds the newest complete one);
7. score the test set once, save the final **weights** and tokenizer, and write ``metrics.json``.

Output folder layout::

    OUT/checkpoints/checkpoint-N/   resumable snapshots (at most save_total_limit)
    OUT/model/                      the fine-tuned model + tokenizer + training_config.json
    OUT/training_config.json        the exact configuration of this run
    OUT/log_history.json            every logged loss, learning rate and evaluation
    OUT/metrics.json                test scores, throughput, wall time, device, serving, behaviour and
                                    out-of-domain checks
                                    (``ml.results``: the record every reader reads them through)
    OUT/test_predictions.parquet    the answer on every test review (``ml.evaluation.scored_reviews``)
    OUT/teacher_answers.npz         a student's only: its teacher's P(positive) on each training review
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
from torch.utils.data import SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import has_length

from ml.base_models import freeze_lower_layers, load_for_classification, resolve_base_model
from ml.config import CONFIG_FILE, TrainingConfig
from ml.data.augmentation import counterfactual_pairs, short_crops, with_typos
from ml.data.corrections import Corrections, load_corrections
from ml.data.sources import (
    AddedReviews,
    ReviewSplits,
    SplitLimits,
    load_added_data,
    load_reviews,
    resolve_added_data,
    resolve_data_source,
)
from ml.data.tokenization import tokenize_dataset
from ml.errors import ConfigError, MLError, first_line
from ml.estimate import DataShape, ModelShape, Work, padded_tokens_per_epoch, scoring_in_training_tokens
from ml.evaluation.metrics import classification_metrics, positive_probabilities, trainer_metrics
from ml.evaluation.scored_reviews import scored_reviews_write
from ml.hardware import Hardware, detect_hardware, resolve_precision
from ml.results import (
    RESULTS_FILE,
    AddedDataScore,
    BehaviourResult,
    CorrectionsScore,
    DataUsed,
    EpochScores,
    MemoryPeaks,
    ModelSize,
    OutOfDomainResult,
    PhaseSeconds,
    RanOn,
    RunResults,
    ServingCheck,
    SplitSizes,
    TestScores,
    TrainingFigures,
    results_write,
)
from ml.serving.choice import AUTO, DEFAULT_MAX_LOSS_POINTS, serving_runtime
from ml.serving.inference import predictor_load
from ml.serving.labeller import WEIGHT_FILES
from ml.training.checkpoints import latest_complete_checkpoint
from ml.training.distillation import ANSWERS_COLUMN, distillation_loss, layers_keep, teacher_answers
from ml.training.head_first import fit_head_first
from ml.training.progress import RunWork, TrainingObserver
from ml.training.progress_callback import ObserverCallback
from ml.training.run_measures import Laps, peak_memory, tokens_per_word, words_profile

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"  # the Trainer's output_dir, inside the run's folder


@dataclass
class TrainingResult:
    output_dir: str
    model_dir: str | None  # None when the run was stopped before the end
    results: RunResults = field(default_factory=RunResults)
    stopped: bool = False
    last_checkpoint: str | None = None
    main_process: bool = True  # False in the other processes of a multi-process (torchrun) run

    @property
    def metrics(self) -> dict:
        """The results as ``metrics.json`` has them."""
        return self.results.to_json()


class ReviewCollator:
    """Pads each batch (to the longest review, or to max length as the tutorial did).

    It drops the ``length`` column, which only the length-grouping sampler reads. For a BERT model with
    SDPA attention and ``overlap_steps`` it also settles the attention mask here, on the CPU, where
    that costs nothing: a batch without padding gets none (SDPA may then use its fastest kernel), and
    any other gets it already in the 4-D form SDPA takes (batch, 1, 1, tokens; True = a real token).
    Given the usual 2-D mask, the model itself would first ask whether the batch has any padding at
    all, and reading that answer makes the CPU wait for the GPU.
    """

    READY_MASK_MODELS = {"bert"}  # checked: BERT's forward uses the mask only to build the SDPA mask

    SIDE_COLUMNS = ("length", ANSWERS_COLUMN)  # read by the sampler and the loss, not by the model

    def __init__(self, tokenizer, config: TrainingConfig, *, model_type: str | None = None):
        self.ready_mask = config.overlap_steps and config.attention == "sdpa" and model_type in self.READY_MASK_MODELS
        fixed = config.padding == "max_length"
        self.inner = DataCollatorWithPadding(
            tokenizer,
            padding="max_length" if fixed else True,
            max_length=config.max_length if fixed else None,
            pad_to_multiple_of=config.pad_to_multiple_of or None,
        )

    def __call__(self, features):
        import torch

        batch = self.inner([{k: v for k, v in f.items() if k not in self.SIDE_COLUMNS} for f in features])
        if ANSWERS_COLUMN in features[0]:  # a student's training batch: the teacher's answers, for the loss
            batch[ANSWERS_COLUMN] = torch.tensor([f[ANSWERS_COLUMN] for f in features], dtype=torch.float32)
        if self.ready_mask:
            mask = batch.pop("attention_mask")
            if not mask.all():
                batch["attention_mask"] = mask[:, None, None, :].bool()
        return batch


class ReviewTrainer(Trainer):
    """The ``Trainer``, evaluating and predicting in the order it is given.

    With length grouping on, transformers 5 also groups (and so shuffles) the *evaluation* batches. The
    scores do not mind, since labels come back in the same shuffled order, but the answers on the test
    reviews are saved one per review, by position: in a shuffled order each answer would be kept with
    another review's text. A sequential sampler keeps them in place; with several processes no sampler
    (``None``) lets Accelerate split the reviews in order and gather them back in order.
    """

    def __init__(self, *args, distillation: TrainingConfig | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.distillation = distillation
        if distillation is not None:
            # the distillation loss is a mean over its batch: the Trainer divides it by the accumulated steps
            self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """A student's training batch (it carries the teacher's answers) is scored by the distillation loss
        (``ml.training.distillation``); everything else, evaluation included, by the Trainer's own."""
        teacher = inputs.pop(ANSWERS_COLUMN, None)
        if teacher is None or self.distillation is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = distillation_loss(
            outputs.logits,
            teacher,
            labels,
            temperature=self.distillation.distillation_temperature,
            weight=self.distillation.distillation_weight,
            smoothing=self.args.label_smoothing_factor,
        )
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        """Counts the tokens each step computes (padding included) into the state, for the live time left
        (``ml.training.progress.RunWork``). The Trainer's own count (``include_num_input_tokens_seen``) gathers
        it across processes and reads it back from the device on every step, a wait a GPU should not
        make; a tensor's size is known on the host. Saved with each checkpoint, the count survives a resume.
        """
        if self.args.include_num_input_tokens_seen == "no" and "input_ids" in inputs:
            self.state.num_input_tokens_seen += inputs["input_ids"].numel()
        return super().training_step(model, inputs, num_items_in_batch)

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or not has_length(eval_dataset) or self.args.world_size > 1:
            return None
        return SequentialSampler(eval_dataset)


def train_model(
    config: TrainingConfig,
    *,
    imdb_dir: str | None = None,
    observer: TrainingObserver | None = None,
    observer_interval: float = 2.0,
    progress_bar: bool = True,
    callbacks: list | None = None,
) -> TrainingResult:
    """Fine-tune ``config.base_model`` on ``config.dataset`` and write everything to ``config.output_dir``.
    ``callbacks`` are extra ``TrainerCallback``s (the benchmarks time steps with one)."""
    laps = Laps()  # the seconds of each phase, for the next run's estimate (ml.estimate)
    # cheap checks first: a wrong model name or data folder is reported before anything slow starts
    resolve_base_model(config.base_model)
    resolve_data_source(config.dataset, imdb_dir=imdb_dir)
    resolve_added_data(config.added_data)
    out, resume_from = _output_folder(config)
    hardware, precision = _device_and_precision(config)  # 1
    # Built before the data: under torchrun this joins the process group, so that the main process can
    # prepare (and cache) the data before the others read it.
    args = training_arguments(
        config, out / CHECKPOINTS, precision, hardware, progress_bar=progress_bar, processes=_launched_processes()
    )
    with args.main_process_first(desc="loading and tokenizing the reviews"):
        splits = load_reviews(config.dataset, limits=split_limits(config), imdb_dir=imdb_dir)  # 2
        reviews = len(splits.train)  # the data set's own, before anything is added to them
        _augment(config, splits)
        corrections = _add_corrections(config, splits)
        added = _add_data(config, splits)
        tokenizer, model = _pretrained_model(config)  # 3
        tokenized = _tokenized_splits(config, splits, tokenizer, corrections, added)  # 4
        _add_teacher_answers(config, splits, tokenized, out)
    _head_first(config, model, tokenizer, tokenized["train"], splits, args.device, precision, resume_from)
    profile = _data_profile(config, splits, tokenized["train"].select(range(reviews)))
    watcher = (
        ObserverCallback(
            observer, min_interval=observer_interval, work=_run_work(config, profile, model, tokenized["train"], args)
        )
        if observer
        else None
    )
    trainer = _trainer(config, args, model, tokenizer, tokenized, [*(callbacks or []), *filter(None, [watcher])])
    laps.lap("prepare")
    train_output = trainer.train(resume_from_checkpoint=resume_from)  # 5 and 6
    laps.lap("train")
    training_memory = peak_memory()  # what the estimate models: the checks after it may read more
    result = _record_training(config, out, trainer, stopped=bool(watcher and watcher.stopped))  # 7
    result.results = results = _run_results(config, trainer, train_output, hardware, precision, splits, resume_from)
    results.data.profile = profile
    if not result.stopped:  # a stopped run saves no model
        result.model_dir = _score_and_save(config, trainer, out, tokenized["test"], splits, results, laps)
        if corrections is not None:
            results.corrections = _score_corrections(config, trainer, tokenized, corrections)
        if added is not None:
            results.added_data = _score_added_data(trainer, tokenized, added)
    results.seconds = PhaseSeconds.from_json(laps.phases(trainer.state.log_history))
    results.memory = MemoryPeaks.from_json({**peak_memory(), "training": training_memory})
    _write_results(result, laps.started)
    return result


def split_limits(config: TrainingConfig) -> SplitLimits:
    return SplitLimits(
        seed=config.seed,
        validation_fraction=config.validation_fraction,
        max_train=config.max_train_examples,
        max_validation=config.max_validation_examples,
        max_test=config.max_test_examples,
    )


def training_arguments(
    config: TrainingConfig,
    checkpoints: Path,
    precision: str,
    hardware: Hardware,
    *,
    progress_bar: bool,
    processes: int = 1,
):
    """The ``Trainer``'s settings for this run; ``processes`` is how many train together (torchrun)."""
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.num_train_epochs,
        per_device_train_batch_size=config.train_batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        label_smoothing_factor=config.label_smoothing,
        # transformers 5 has no warmup_ratio: a warmup_steps below 1 is the fraction of all steps
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler,
        optim=config.optimizer,
        seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=hardware.kind == "cpu",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        eval_strategy=config.eval_strategy,
        eval_steps=config.eval_steps,
        save_strategy=config.save_strategy,
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=bool(config.early_stopping_patience),
        metric_for_best_model="accuracy",
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        dataloader_num_workers=config.dataloader_workers,
        # overlap_steps: no per-step NaN check of the loss (a GPU sync; logged losses still show a NaN)
        # and batches copied from pinned memory without blocking, so nothing waits for the GPU per step
        logging_nan_inf_filter=not config.overlap_steps,
        dataloader_pin_memory=hardware.kind == "cuda",
        accelerator_config={"non_blocking": config.overlap_steps and hardware.kind == "cuda"},
        torch_compile=config.torch_compile,
        dataloader_persistent_workers=config.dataloader_workers > 0,  # not restarted every epoch
        remove_unused_columns=False,  # keep "length" for the sampler; the collator drops it
        report_to="none",
        disable_tqdm=not progress_bar,
        # several processes on CPUs talk through gloo (on GPUs the default, NCCL, is right); only then:
        # a single process given gloo asks for the size of a process group that does not exist, and fails
        ddp_backend="gloo" if hardware.kind == "cpu" and processes > 1 else None,
    )


def _launched_processes() -> int:
    """How many processes train this run together: torchrun (or ``accelerate launch``) sets WORLD_SIZE."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _output_folder(config: TrainingConfig) -> tuple[Path, str | None]:
    """The run's folder, created if needed, and the checkpoint to resume from (None: from the start)."""
    if not config.output_dir:
        raise ConfigError("output_dir is empty: say where the model and metrics should go")
    out = Path(config.output_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    last = latest_complete_checkpoint(out / CHECKPOINTS)
    if config.resume:
        if last is None:
            logger.warning("no checkpoint in %s: starting from the beginning", out / CHECKPOINTS)
        return out, last
    if last is not None:
        raise ConfigError(
            f"{config.output_dir} already holds checkpoints of an earlier run: resume it (--resume) "
            "or choose another output folder"
        )
    return out, None


def _device_and_precision(config: TrainingConfig) -> tuple[Hardware, str]:
    hardware = detect_hardware()
    precision = resolve_precision(config.precision, hardware)
    logger.info("training on %s in %s", hardware.describe(), precision)
    return hardware, precision


def _pretrained_model(config: TrainingConfig):
    """The tokenizer and the pre-trained model with a fresh classification head (a student: its teacher with
    the teacher's head), its layers kept and frozen as configured."""
    set_seed(config.seed)  # the new classification head's initial weights depend on it
    tokenizer, model = load_for_classification(config.base_model, attention=config.attention, dropout=config.dropout)
    _check_length(config, model)
    if config.keep_layers:
        layers_keep(model, config.keep_layers, config.keep_layers_from)
    freeze_lower_layers(model, config.frozen_layers)
    return tokenizer, model


def _augment(config: TrainingConfig, splits: ReviewSplits) -> None:
    """Short crops of the training reviews and the counterfactual pairs (``ml.data.augmentation``), added to
    the training reviews when the config asks for them."""
    added = []
    if config.short_crops:
        crops = short_crops(splits.train, limit=config.short_crops, seed=config.seed)
        added.append(crops)
        splits.notes.append(f"{len(crops):,} short crops of the training reviews added to them")
    if config.counterfactual_pairs:
        pairs = counterfactual_pairs().cast(splits.train.features)
        added += [pairs] * config.counterfactual_pairs
        times = f", {config.counterfactual_pairs} times" if config.counterfactual_pairs > 1 else ""
        splits.notes.append(f"{len(pairs) // 2} counterfactual pairs ({len(pairs)} short reviews) added{times}")
        for copy in range(config.pairs_with_typos):
            added.append(with_typos(pairs, seed=config.seed + copy))
        if config.pairs_with_typos:
            more = "once more" if config.pairs_with_typos == 1 else f"{config.pairs_with_typos} more times"
            splits.notes.append(f"the pairs added {more} with typos")
    if added:
        splits.train = datasets.concatenate_datasets([splits.train, *added])


def _head_first(config: TrainingConfig, model, tokenizer, train, splits, device, precision: str, resume_from) -> None:
    """The classification head fitted on the frozen model's features before fine-tuning (``ml.training.head_first``)
    when the config asks for it; a resumed run's head comes from its checkpoint."""
    if not config.head_first_reviews or resume_from is not None:
        return
    collator = ReviewCollator(tokenizer, config, model_type=model.config.model_type)
    reviews = min(config.head_first_reviews, len(train))
    right = fit_head_first(
        model, train, collator, reviews=reviews, seed=config.seed, device=device, precision=precision
    )
    splits.notes.append(f"the head fitted first on {reviews:,} training reviews ({right:.1%} of them right)")


def _add_corrections(config: TrainingConfig, splits: ReviewSplits) -> Corrections | None:
    """The corrections set (``ml.data.corrections``), its training part added to the training reviews when asked."""
    if not config.corrections_file:
        return None
    corrections = load_corrections(config.corrections_file)
    if config.train_on_corrections and len(corrections.train):
        added = corrections.train.cast(splits.train.features)
        splits.train = datasets.concatenate_datasets([splits.train, added])
        splits.notes.append(f"{len(added)} corrections from users added to the training reviews")
    return corrections


def _add_data(config: TrainingConfig, splits: ReviewSplits) -> AddedReviews | None:
    """Your own labelled reviews (``config.added_data``): their training part added to the training reviews."""
    if not config.added_data:
        return None
    added = load_added_data(config.added_data)
    splits.train = datasets.concatenate_datasets([splits.train, added.train.cast(splits.train.features)])
    splits.notes.append(
        f"{len(added.train)} reviews of your own ({added.folder}) added to the training reviews; "
        f"their {len(added.test)} test reviews are scored on their own"
    )
    return added


def _add_teacher_answers(config: TrainingConfig, splits: ReviewSplits, tokenized: dict, out: Path) -> None:
    """A student's training reviews carry its teacher's answers, for the distillation loss
    (``ml.training.distillation``); an ordinary run's carry nothing more."""
    if config.teacher_model:
        answers, note = teacher_answers(config, splits.train["text"], out)
        tokenized["train"] = tokenized["train"].add_column(ANSWERS_COLUMN, answers.tolist())
        splits.notes.append(note)


def _tokenized_splits(
    config: TrainingConfig, splits: ReviewSplits, tokenizer, corrections=None, added: AddedReviews | None = None
) -> dict:
    named = [("train", splits.train), ("validation", splits.validation), ("test", splits.test)]
    if corrections is not None and len(corrections.holdout):
        named.append(("corrections", corrections.holdout))
    if added is not None:
        named.append(("added_data", added.test))
    return {
        name: tokenize_dataset(split, tokenizer, max_length=config.max_length, truncation=config.truncation)
        for name, split in named
    }


def _score_corrections(config: TrainingConfig, trainer, tokenized: dict, corrections: Corrections) -> CorrectionsScore:
    """The model's accuracy on the held-out corrections: does it fix what users reported?"""
    scores = CorrectionsScore.from_json(corrections.describe())
    scores.trained_on = len(corrections.train) if config.train_on_corrections else 0
    held = tokenized.get("corrections")
    if held is not None:
        output = trainer.predict(held, metric_key_prefix="corrections")
        right = (positive_probabilities(output.predictions) >= 0.5).astype(int) == output.label_ids
        scores.right, scores.accuracy = int(right.sum()), float(right.mean())
    return scores


def _score_added_data(trainer, tokenized: dict, added: AddedReviews) -> AddedDataScore:
    """The model's accuracy on the added set's own test reviews: how it does on your kind of reviews."""
    output = trainer.predict(tokenized["added_data"], metric_key_prefix="added_data")
    right = (positive_probabilities(output.predictions) >= 0.5).astype(int) == output.label_ids
    return AddedDataScore(
        folder=added.folder,
        train=len(added.train),
        test=len(added.test),
        right=int(right.sum()),
        accuracy=float(right.mean()),
    )


def _trainer(config: TrainingConfig, args, model, tokenizer, tokenized: dict, callbacks: list):
    """The ``Trainer`` that runs steps 5 and 6; early stopping, if asked for, comes after ``callbacks``."""
    if config.early_stopping_patience:
        callbacks = [*callbacks, EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]
    return ReviewTrainer(
        distillation=config if config.teacher_model else None,
        model=model,
        args=args,
        train_dataset=tokenized["train"],
        # sorted by length, evaluation batches need almost no padding; the order does not change the scores
        eval_dataset=tokenized["validation"].sort("length") if config.eval_strategy != "no" else None,
        processing_class=tokenizer,
        data_collator=ReviewCollator(tokenizer, config, model_type=model.config.model_type),
        compute_metrics=trainer_metrics,
        callbacks=callbacks,
    )


def _record_training(config: TrainingConfig, out: Path, trainer, *, stopped: bool) -> TrainingResult:
    """Write the configuration and the log history (main process only) and start the result."""
    main = trainer.is_world_process_zero()  # with several processes, only the first one writes files
    if main:
        (out / CONFIG_FILE).write_text(config.to_json())
        _write_json(out / "log_history.json", trainer.state.log_history)
    last_checkpoint = latest_complete_checkpoint(out / CHECKPOINTS)
    return TrainingResult(
        output_dir=str(out), model_dir=None, stopped=stopped, last_checkpoint=last_checkpoint, main_process=main
    )


def _run_results(
    config: TrainingConfig,
    trainer,
    train_output,
    hardware: Hardware,
    precision: str,
    splits: ReviewSplits,
    resume_from: str | None,
) -> RunResults:
    """What ran on what, and how training went; ``_score_and_save`` adds the test scores."""
    return RunResults(
        base_model=config.base_model,
        device=hardware.describe(),
        hardware=RanOn.from_json(hardware.to_dict()),
        precision=precision,
        processes=trainer.args.world_size,
        data=DataUsed(source=splits.description, sizes=SplitSizes.from_json(splits.sizes()), notes=splits.notes),
        resumed_from=resume_from,
        train=TrainingFigures(
            loss=train_output.training_loss,
            samples_per_second=train_output.metrics.get("train_samples_per_second"),
            seconds=train_output.metrics.get("train_runtime"),
            steps=trainer.state.global_step,
        ),
        epochs=[EpochScores.from_json(epoch) for epoch in _epoch_curve(trainer.state.log_history)],
        model_shape={
            name: getattr(trainer.model.config, name, None)
            for name in ("num_hidden_layers", "hidden_size", "intermediate_size", "vocab_size")
        },
    )


def _data_profile(config: TrainingConfig, splits: ReviewSplits, tokenized_train) -> dict:
    """The data set's reviews' lengths and how many there were before any limit: what the next estimate reads.
    ``tokenized_train`` is the data set's own training reviews, the first rows of the training split: the
    short crops, pairs and corrections added after them would make its reviews look shorter than they are."""
    texts = splits.train.select(range(len(tokenized_train)))["text"]
    return {
        "source_sizes": splits.source_sizes,
        "words": words_profile(texts),
        "tokens_per_word": tokens_per_word(texts, tokenized_train["length"], max_length=config.max_length),
    }


def _run_work(config: TrainingConfig, profile: dict, model, train, args) -> RunWork:
    """The run's work in training tokens, for the live time left: its own reviews' lengths batched as the
    Trainer will batch them, and the scoring after training by ``ml.estimate``'s arithmetic (none when
    the model's shape or the reviews' lengths are unknown)."""
    per_epoch = padded_tokens_per_epoch(
        train["length"],
        batch_size=config.train_batch_size,
        grouped=config.group_by_length,
        pad_to_multiple_of=config.pad_to_multiple_of,
        fixed_length=config.max_length if config.padding == "max_length" else 0,
    )
    train_tokens = per_epoch * config.num_train_epochs / args.world_size
    work = RunWork(train_tokens=train_tokens, evaluations=0, validation_tokens=0.0, after_tokens=0.0)
    data = DataShape.from_profile(profile)
    try:
        shape = ModelShape.from_config(model.config.to_dict())
    except (TypeError, ValueError):  # an architecture whose config names its sizes otherwise
        return work
    if data is None:
        return work
    validation, after = scoring_in_training_tokens(config, data=data, model=shape)
    return dataclasses.replace(
        work, evaluations=Work(config, data, shape).evaluations, validation_tokens=validation, after_tokens=after
    )


def _score_and_save(
    config: TrainingConfig, trainer, out: Path, test_dataset, splits: ReviewSplits, results: RunResults, laps: Laps
) -> str:
    """Score the test set (every process takes part), save the model and the test answers, and add the
    scores, the model's size, the serving check and the behavioural checks to ``results``."""
    results.test, probs = _score_test(trainer, test_dataset)
    model_dir = out / "model"
    trainer.save_model(str(model_dir))  # weights, model config and tokenizer, from the main process
    if trainer.is_world_process_zero():
        (model_dir / CONFIG_FILE).write_text(config.to_json())
        test = splits.test
        try:  # what helps read the model: a full disk here must not fail a run whose model is saved
            scored_reviews_write(
                out, review_ids=splits.test_ids, labels=test["label"], positive_probs=probs, texts=test["text"]
            )
            results.model = _model_size(trainer.model, model_dir)
        except OSError as exc:
            logger.warning("the test answers or the model's size were not recorded: %s", exc)
        laps.lap("test")
        results.serving = _serving_check(model_dir, test, config.serving_check_reviews)
        results.behaviour, results.out_of_domain = _model_checks(model_dir, results.serving)
        laps.lap("checks")
    return str(model_dir)


def _model_size(model, model_dir: Path) -> ModelSize:
    """Parameters (the weights learned), those training could change, and the saved weights' size."""
    return ModelSize(
        parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        bytes=sum(f.stat().st_size for f in model_dir.iterdir() if f.name in WEIGHT_FILES),
    )


def _write_results(result: TrainingResult, started: float) -> None:
    result.results.wall_seconds = round(time.monotonic() - started, 2)
    result.results.stopped = result.stopped
    if result.main_process:
        results_write(Path(result.output_dir) / RESULTS_FILE, result.results)


def _check_length(config: TrainingConfig, model) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit and config.max_length > limit:
        raise ConfigError(
            f"max_length {config.max_length} is longer than {config.base_model} can read ({limit} tokens)"
        )


def _score_test(trainer, test_dataset) -> tuple[TestScores, np.ndarray]:
    """Score the test split once: the scores, and P(positive) per review in the split's order. Sorted by
    length, batches need almost no padding; the answers are put back in order afterwards."""
    order = np.argsort(np.asarray(test_dataset["length"]), kind="stable")
    output = trainer.predict(test_dataset.select(order), metric_key_prefix="test")
    if not np.array_equal(output.label_ids, np.asarray(test_dataset["label"])[order]):
        # answers out of order would be saved beside the wrong reviews (see ReviewTrainer)
        raise RuntimeError("the test answers came back in another order than the reviews were given")
    probs = np.empty(len(order))
    probs[order] = positive_probabilities(output.predictions)
    labels = np.empty(len(order), dtype=np.int64)
    labels[order] = output.label_ids
    scores = TestScores.from_json(classification_metrics(labels, probs))
    scores.loss = output.metrics.get("test_loss")
    scores.samples_per_second = output.metrics.get("test_samples_per_second")
    return scores, probs


def _serving_check(model_dir: Path, test, reviews: int) -> ServingCheck | None:
    """Each serving runtime on the first ``reviews`` test reviews (the test split is already a seeded
    sample): ``ml.serving.check``. A check that cannot run leaves the model served by PyTorch."""
    if not reviews:
        return None
    from ml.serving.check import serving_check  # ONNX's exporter and runtime load only here

    sample = test.select(range(min(reviews, len(test))))
    try:
        return ServingCheck.from_json(serving_check(model_dir, sample["text"], sample["label"]))
    except (RuntimeError, OSError) as exc:
        logger.warning("serving check skipped: %s", exc)
        return ServingCheck(error=first_line(exc))


def _model_checks(model_dir: Path, serving: ServingCheck) -> tuple[BehaviourResult, OutOfDomainResult]:
    """The behavioural checks (``ml.evaluation.behaviour``) and the out-of-domain check
    (``ml.evaluation.out_of_domain``) on the saved model, answered by the runtime that would serve it by
    default (``ml.serving.choice``), as the checks run again later on the site are: their results are
    comparable. A check that cannot run is recorded as such: it never fails a run that trained."""
    from ml.evaluation.behaviour import behaviour_check
    from ml.evaluation.out_of_domain import out_of_domain_check

    runtime = serving_runtime(serving, setting=AUTO, max_loss_points=DEFAULT_MAX_LOSS_POINTS)
    try:
        predictor = predictor_load(model_dir, runtime)
    except (MLError, RuntimeError, OSError, ValueError) as exc:
        logger.warning("the model's checks skipped: %s", exc)
        return BehaviourResult(error=first_line(exc)), OutOfDomainResult(error=first_line(exc))

    def score(texts):
        return predictor.positive_probabilities(texts, batch_size=32)

    checked = []
    for name, check, section in (
        ("behavioural checks", behaviour_check, BehaviourResult),
        ("out-of-domain check", out_of_domain_check, OutOfDomainResult),
    ):
        try:
            checked.append(section.from_json({**check(score), "runtime": runtime}))
        except (MLError, RuntimeError, OSError, ValueError) as exc:
            logger.warning("%s skipped: %s", name, exc)
            checked.append(section(error=first_line(exc)))
    return checked[0], checked[1]


def _epoch_curve(log_history: list[dict]) -> list[dict]:
    """One row per evaluation: epoch, step and validation scores (the learning curve)."""
    return [
        {"epoch": e.get("epoch"), "step": e.get("step"), **{k[5:]: v for k, v in e.items() if k.startswith("eval_")}}
        for e in log_history
        if "eval_loss" in e
    ]


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))
