import json
import logging

from ml.training.checkpoints import latest_complete_checkpoint


def checkpoint(folder, name, *, state='{"global_step": 1}'):
    """A checkpoint folder as the Trainer leaves it; ``state=None`` leaves out ``trainer_state.json``."""
    path = folder / name
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"weights")
    if state is not None:
        (path / "trainer_state.json").write_text(state)
    return path


def test_no_checkpoints_folder_means_nothing_to_resume(tmp_path):
    assert latest_complete_checkpoint(tmp_path / "checkpoints") is None


def test_an_empty_checkpoints_folder_means_nothing_to_resume(tmp_path):
    assert latest_complete_checkpoint(tmp_path) is None


def test_the_newest_checkpoint_is_chosen_and_a_path_as_text_is_accepted(tmp_path):
    checkpoint(tmp_path, "checkpoint-5")
    newest = checkpoint(tmp_path, "checkpoint-10")
    assert latest_complete_checkpoint(str(tmp_path)) == str(newest)


def test_a_checkpoint_without_its_trainer_state_was_interrupted_and_is_skipped(tmp_path, caplog):
    complete = checkpoint(tmp_path, "checkpoint-5")
    checkpoint(tmp_path, "checkpoint-10", state=None)
    with caplog.at_level(logging.WARNING, logger="ml.training.checkpoints"):
        assert latest_complete_checkpoint(tmp_path) == str(complete)
    assert "checkpoint-10" in caplog.text and "incomplete" in caplog.text


def test_a_truncated_trainer_state_counts_as_interrupted(tmp_path):
    complete = checkpoint(tmp_path, "checkpoint-5")
    whole = json.dumps({"global_step": 10, "log_history": [{"loss": 0.5}]})
    checkpoint(tmp_path, "checkpoint-10", state=whole[: len(whole) // 2])
    assert latest_complete_checkpoint(tmp_path) == str(complete)


def test_only_incomplete_checkpoints_mean_nothing_to_resume(tmp_path):
    checkpoint(tmp_path, "checkpoint-5", state="")
    checkpoint(tmp_path, "checkpoint-10", state=None)
    assert latest_complete_checkpoint(tmp_path) is None


def test_steps_are_compared_as_numbers_not_as_text(tmp_path):
    checkpoint(tmp_path, "checkpoint-9")
    newest = checkpoint(tmp_path, "checkpoint-10")
    checkpoint(tmp_path, "checkpoint-100", state=None)
    assert latest_complete_checkpoint(tmp_path) == str(newest)


def test_folders_that_are_not_numbered_checkpoints_are_ignored(tmp_path):
    numbered = checkpoint(tmp_path, "checkpoint-3")
    for name in ("checkpoint-best", "checkpoint-", "runs", "checkpoint-x7"):
        checkpoint(tmp_path, name)
    assert latest_complete_checkpoint(tmp_path) == str(numbered)
