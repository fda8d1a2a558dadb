"""The live time left (``ml.progress_callback``): the steps to go, and the scoring after them, at the speed the
steps have gone so far."""

from __future__ import annotations

from types import SimpleNamespace

from ml.progress_callback import ObserverCallback


class Keeper:
    def __init__(self):
        self.updates = []

    def on_progress(self, progress):
        self.updates.append(progress)

    def should_stop(self):
        return False


def test_the_time_left_counts_the_scoring_after_the_last_step(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("ml.progress_callback.time.monotonic", lambda: now[0])
    keeper = Keeper()
    callback = ObserverCallback(keeper, min_interval=0, after_steps=15)
    state = SimpleNamespace(global_step=0, max_steps=40, epoch=0.0, num_train_epochs=1)
    callback.on_train_begin(None, state, SimpleNamespace(should_training_stop=False))
    state.global_step, now[0] = 10, 120.0  # 10 of 40 steps in 20 s: 2 s a step
    callback.on_step_end(None, state, SimpleNamespace(should_training_stop=False))
    assert keeper.updates[-1].eta_seconds == 2 * (30 + 15)  # 30 steps to go, then 15 steps' worth of scoring
    state.global_step, now[0] = 40, 180.0
    callback.on_train_end(None, state, SimpleNamespace(should_training_stop=False))
    assert keeper.updates[-1].eta_seconds == 2 * 15  # training done: the scoring is what is left
