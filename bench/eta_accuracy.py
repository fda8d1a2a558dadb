"""How right the run page's "Time left" is: watch a run in the database until it ends, then compare.

Every ``--every`` seconds it reads the run as the run page does (``selectors.run_progress``) and notes the
step and the time left it shows; when the run has ended it sets each figure against the time the run
really still took (until ``finished_at``), and reports the worst error after the first 5% of the steps,
the issue's bound being ±20%. The baseline in the same run is the plainest guess a page could show: the
time elapsed so far scaled by the steps left.

    python -m bench.eta_accuracy --run 3 --out result.json   # while run 3 trains (start it first)
"""

from __future__ import annotations

import argparse
import os
import time

from bench import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=int, required=True, help="the run's id")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between readings")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from sentiment import selectors
    from sentiment.models import TrainingRun

    readings = []
    while True:
        run = TrainingRun.objects.get(pk=args.run)
        if run.finished_at:
            break
        shown = selectors.training_run_progress(run=run)
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
                "shown_error": round(reading["eta_seconds"] / actual - 1, 3)
                if reading["eta_seconds"] and actual > 0
                else None,
                "naive_error": round(naive / actual - 1, 3) if actual > 0 else None,
            }
        )
    after = [row for row in rows if row["done"] >= 0.05 and row["shown_error"] is not None]
    worst = max((abs(row["shown_error"]) for row in after), default=None)
    common.emit(
        {
            "benchmark": "eta_accuracy",
            "machine": common.machine(),
            "run": args.run,
            "status": run.status,
            "seconds": round(end - run.started_at.timestamp(), 1),
            "worst_error_after_5_percent": worst,
            "target": "within 20% after the first 5% of steps",
            "target_met": worst is not None and worst <= 0.2,
            "readings": rows,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
