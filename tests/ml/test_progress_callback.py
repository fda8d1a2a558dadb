"""The live time left (``ml.training.progress_callback``): the work still to compute, counted in tokens, at the speed
the training steps have gone so far, and the validations and scoring after them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ml.estimate import padded_tokens_per_epoch
from ml.training.progress import RunWork
from ml.training.progress_callback import ObserverCallback


class Keeper:
    def __init__(self):
        self.updates = []

    def on_progress(self, progress):
        self.updates.append(progress)

    def should_stop(self):
        return False


def _control():
    return SimpleNamespace(should_training_stop=False)


def _state(**values):
    return SimpleNamespace(
        global_step=0, max_steps=40, epoch=0.0, num_train_epochs=1, num_input_tokens_seen=0, log_history=[], **values
    )


def test_long_first_batches_do_not_inflate_the_time_left(monkeypatch):
    """Length-grouped batches come longest first: the first 10 steps hold half the tokens. At one second per
    1,000 tokens the run takes 40 s of training; after the first 10 steps, 20 s are left, not 60."""
    now = [100.0]
    monkeypatch.setattr("ml.training.progress_callback.time.monotonic", lambda: now[0])
    keeper = Keeper()
    work = RunWork(train_tokens=40_000, evaluations=1, validation_tokens=4_000, after_tokens=6_000)
    callback = ObserverCallback(keeper, min_interval=0, work=work)
    state = _state()
    callback.on_train_begin(None, state, _control())
    state.global_step, state.num_input_tokens_seen, now[0] = 10, 20_000, 120.0
    callback.on_step_end(None, state, _control())
    # training, the validation, the test; steps alone said 60 s for the training (2 s a step, 30 to go)
    assert keeper.updates[-1].eta_seconds == pytest.approx(20 + 4 + 6)


def test_validation_time_is_not_counted_as_training_speed_and_is_priced_once_done(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("ml.training.progress_callback.time.monotonic", lambda: now[0])
    keeper = Keeper()
    callback = ObserverCallback(keeper, min_interval=0, work=RunWork(40_000, 2, 4_000, 6_000))
    state = _state()
    callback.on_train_begin(None, state, _control())
    state.global_step, state.num_input_tokens_seen, now[0] = 20, 20_000, 30.0  # 20 s training, 10 s validating
    state.log_history.append({"eval_loss": 0.5})
    callback.on_evaluate(None, state, _control(), metrics={"eval_runtime": 10.0, "eval_loss": 0.5})
    assert keeper.updates[-1].eta_seconds == pytest.approx(20 + 4 + 6)  # 1,000 tokens a second
    state.global_step, state.num_input_tokens_seen, now[0] = 40, 40_000, 60.0
    state.log_history.append({"eval_loss": 0.4})
    callback.on_evaluate(None, state, _control(), metrics={"eval_runtime": 10.0})
    callback.on_train_end(None, state, _control())
    assert keeper.updates[-1].eta_seconds == pytest.approx(6)  # only the scoring after the last validation


def test_without_a_token_count_the_time_left_scales_the_steps(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("ml.training.progress_callback.time.monotonic", lambda: now[0])
    keeper = Keeper()
    callback = ObserverCallback(keeper, min_interval=0)
    state = _state()
    callback.on_train_begin(None, state, _control())
    state.global_step, now[0] = 10, 120.0  # 10 of 40 steps in 20 s: 2 s a step
    callback.on_step_end(None, state, _control())
    assert keeper.updates[-1].eta_seconds == 2 * 30


def test_an_epoch_s_padded_tokens_follow_the_batching():
    lengths = [10] * 90 + [100] * 10
    assert padded_tokens_per_epoch(lengths, batch_size=10, grouped=False, fixed_length=128) == 100 * 128
    grouped = padded_tokens_per_epoch(lengths, batch_size=10, grouped=True)
    assert grouped == sum(lengths)  # one group, sorted: every batch is of one length
    shuffled = padded_tokens_per_epoch(lengths, batch_size=10, grouped=False)
    assert shuffled > 2 * grouped  # most random batches hold a long review
    assert padded_tokens_per_epoch([10, 20], batch_size=2, grouped=True, pad_to_multiple_of=64) == 128
