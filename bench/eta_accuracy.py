"""How right the run page's "Time left" is: watch a run in the database until it ends, then compare.

Every ``--every`` seconds it reads the run as the run page does (``selectors.run_progress``) and notes the
step and the time left it shows; when the run has ended it sets each figure against the time the run
really still took (until ``finished_at``), and reports the worst error after the first 5% of the steps,
the issue's bound being ±20%. The last 5% of the run's time is left out of that worst figure: there a
second's error (the heartbeat's resolution) is a large fraction of what is left; the worst error in
seconds is reported beside it. The baseline in the same run is the plainest guess a page could show:
the time elapsed so far scaled by the steps left.

    python -m bench.eta_accuracy --run 3 --out result.json   # while run 3 trains (start it first)
    python -m bench.eta_accuracy --readings result.json     # summarise saved readings again
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", type=int, help="the run's id")
    source.add_argument("--readings", help="summarise the readings of this earlier result instead of watching")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between readings")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if args.readings:
        earlier = json.loads(Path(args.readings).read_text())
        kept = {key: earlier[key] for key in ("machine", "run", "status", "seconds")}
        common.emit({"benchmark": "eta_accuracy", **kept, **summary(earlier["readings"], earlier["seconds"])}, args.out)
        return

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from sentiment.models import TrainingRun
    from sentiment.selectors.runs import training_run_progress

    readings = []
    while True:
        run = TrainingRun.objects.get(pk=args.run)
        if run.finished_at:
            break
        shown = training_run_progress(run=run)
        if run.started_at and shown.get("step"):
            readings.append(
                {
                    "at": time.time(),
                    "step": shown["step"],
                    "max_steps": shown["max_steps"],
                    "eta_seconds": shown.get("eta_seconds"),
                    "elapsed": time.time() - run.started_at.timestamp(),
                }
            )
        time.sleep(args.every)
    end = run.finished_at.timestamp()
    rows = []
    for reading in readings:
        actual = end - reading["at"]
        done = reading["step"] / reading["max_steps"]
        naive = reading["elapsed"] / done - reading["elapsed"]
        rows.append(
            {
                "done": round(done, 3),
                "actual_seconds_left": round(actual, 1),
                "shown_seconds_left": reading["eta_seconds"],
                "naive_error": _error(naive, actual),
            }
        )
    seconds = round(end - run.started_at.timestamp(), 1)
    common.emit(
        {
            "benchmark": "eta_accuracy",
            "machine": common.machine(),
            "run": args.run,
            "status": run.status,
            "seconds": seconds,
            **summary(rows, seconds),
        },
        args.out,
    )


def summary(rows: list[dict], seconds: float) -> dict:
    """The worst error of the page and of the naive guess after the first 5% of the steps and before the
    last 5% of the run's time, and the page's worst error in seconds after the first 5% of the steps."""
    # the page's error is worked out here, so that readings saved before a 0 s shown counted are read alike
    rows = [{**row, "shown_error": _error(row["shown_seconds_left"], row["actual_seconds_left"])} for row in rows]
    after = [row for row in rows if row["done"] >= 0.05 and row["shown_error"] is not None]
    judged = [row for row in after if row["actual_seconds_left"] >= 0.05 * seconds]
    worst = max((abs(row["shown_error"]) for row in judged), default=None)
    naive = [abs(row["naive_error"]) for row in judged if row["naive_error"] is not None]
    return {
        "worst_error_after_5_percent": worst,
        "naive_worst_error_after_5_percent": max(naive, default=None),
        "worst_seconds_off_after_5_percent": max(
            (round(abs(row["shown_seconds_left"] - row["actual_seconds_left"]), 1) for row in after), default=None
        ),
        "target": "within 20% after the first 5% of steps (and before the last 5% of the run's time)",
        "target_met": worst is not None and worst <= 0.2,
        "readings": rows,
    }


def _error(guess: float | None, actual: float) -> float | None:
    return round(guess / actual - 1, 3) if guess is not None and actual > 0 else None


if __name__ == "__main__":
    main()
