"""Which variant of a trained model to serve, from what was measured on it after training.

Plain Python on the measurements stored with a run, so that a web process decides without importing a
machine-learning library.
"""

from __future__ import annotations

INT8_SPEEDUP_THAT_PAYS = 1.2  # below this, int8's small accuracy cost buys too little


def int8_pays(check: dict | None, *, max_loss_points: float) -> bool:
    """Serve int8 when it was measured to lose at most ``max_loss_points`` of accuracy and to be faster."""
    if not check or "accuracy_loss_points" not in check:
        return False
    return check["accuracy_loss_points"] <= max_loss_points and check["speedup"] >= INT8_SPEEDUP_THAT_PAYS
