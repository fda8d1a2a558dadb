"""Which checkpoint a run can resume from: the newest *complete* one.

The ``Trainer`` writes a checkpoint folder piece by piece and ``trainer_state.json`` last, after the
weights, optimizer and scheduler; a process killed in between leaves a folder that looks like a
checkpoint but cannot be resumed. Whoever asks "is there a checkpoint to resume from, and which?"
(training choosing where to start, the site deciding whether a run resumes) asks here, so that the
answers cannot disagree about a half-written folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def latest_complete_checkpoint(checkpoints_dir: Path | str) -> str | None:
    """The newest ``checkpoint-N`` folder of ``checkpoints_dir`` holding a readable ``trainer_state.json``.

    Newest means the highest step N (``checkpoint-10`` after ``checkpoint-9``); incomplete folders are
    skipped with a warning. None when there is no such folder, or no folder at all.
    """
    checkpoints = Path(checkpoints_dir)
    if not checkpoints.is_dir():
        return None
    numbered = sorted(
        (int(p.name.split("-")[1]), p) for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[1].isdigit()
    )
    for _, folder in reversed(numbered):
        if _readable_json(folder / "trainer_state.json"):
            return str(folder)
        logger.warning("skipping incomplete checkpoint %s (its writer was interrupted)", folder)
    return None


def _readable_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
        return True
    except (OSError, ValueError):
        return False
