import pytest

from sentiment.models import TrainingRun
from sentiment.selectors.runs import training_run_config

pytestmark = pytest.mark.django_db


def test_a_run_resumes_only_from_a_complete_checkpoint(tmp_path):
    run = TrainingRun.objects.create(preset="smoke", config={"base_model": "tiny"}, output_dir=str(tmp_path))
    assert not training_run_config(run=run).resume  # no checkpoints folder yet
    half_written = tmp_path / "checkpoints" / "checkpoint-50"
    half_written.mkdir(parents=True)
    (half_written / "model.safetensors").write_bytes(b"\0" * 16)  # killed before trainer_state.json
    assert not training_run_config(run=run).resume
    (half_written / "trainer_state.json").write_text('{"global_step": 50}')
    assert training_run_config(run=run).resume
