"""Figures as people read them: ``{{ value|figure }}`` (— for nothing; scores to three decimals, small
figures with their significant digits, large ones with thousands separated, seconds as a duration),
``{{ rate|percent }}`` (a share 0..1 as a percentage), ``{{ seconds|duration }}`` (6 min 10 s), and
``{{ log|readable_log }}`` (a training log as a terminal would have shown it, without progress bars).

The run page's live figures are worked out here too (``run_figures``), so that the page and the JSON it
polls say the same thing in the same words.
"""

from __future__ import annotations

import re
from datetime import datetime

from django import template

register = template.Library()


@register.filter
def figure(value, unit: str = ""):
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "s" and isinstance(value, int | float):
        return duration(value)
    if isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        size = abs(value)
        if size >= 1000:
            text = f"{value:,.0f}"
        elif size > 1:
            text = f"{value:.4g}"
        elif size >= 0.01 or value == 0:
            text = f"{value:.3f}"  # scores and shares: always three decimals, 1.000 included
        else:
            text = f"{value:.3g}"  # small figures keep their digits: 0.0003, 2e-05
    else:
        return value
    return f"{text} {unit}".strip() if unit else text


@register.filter
def percent(value, digits: int = 1):
    if value is None or value == "":
        return "—"
    return f"{100 * float(value):.{int(digits)}f}%"


@register.filter
def signed(value, digits: int = 3):
    """A weight or a difference with its sign: +0.120, −0.040."""
    if value is None:
        return "—"
    return f"{float(value):+.{int(digits)}f}".replace("-", "−")


@register.filter
def duration(seconds):
    """Seconds as a person reads a duration: 0.04 s, 45 s, 6 min 10 s, 2.5 h, 3.7 days."""
    if seconds is None or seconds == "":
        return "—"
    seconds = max(float(seconds), 0.0)
    if seconds < 1:
        return f"{seconds:.2g} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@register.filter
def gib(size):
    """Bytes in GiB, one decimal."""
    return "—" if size in (None, "") else f"{int(size) / 2**30:.1f} GiB"


# A progress bar (tqdm, which `datasets` and `transformers` draw): "Map: 45%|████▌ | 45/100 [00:10<00:12, 4.5it/s]"
# or, without a total, "Generating data split: 30000 examples [00:00, 218835.16 examples/s]".
_PROGRESS_BAR = re.compile(r"\d+%\|.*\||\[\d+:\d\d(?::\d\d)?(?:<|, )")


_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@register.filter
def words(name) -> str:
    """A name as people write it: ``verdict_first`` -> "verdict first"."""
    return str(name).replace("_", " ")


@register.filter
def readable_log(text: str) -> str:
    """A log as a terminal would have shown it, less the progress bars and blank lines: a bar redraws
    itself with carriage returns, which leave a copy of it for every redraw in a file (a line each, once
    the file is read as text), and its last state says nothing the run page's own progress does not."""
    lines = []
    for line in _TERMINAL_CODES.sub("", text or "").split("\n"):
        shown = line.rstrip("\r").rsplit("\r", 1)[-1].rstrip()  # a carriage return starts the line again
        if shown and not _PROGRESS_BAR.search(shown):
            lines.append(shown)
    return "\n".join(lines)


def run_figures(progress: dict, *, config: dict) -> dict:
    """The run page's live figures as text, from ``selectors.training_run_progress`` and the run's config:
    the time left (and, after the last step, that the run is scoring), the loss, and the learning rate (in
    warm-up, what it rises to)."""
    step, max_steps, active = progress["step"], progress["max_steps"], progress["active"]
    seconds_left = progress.get("eta_seconds")
    scoring = active and max_steps > 0 and step >= max_steps
    if not active:
        time_left = "—"
        started, finished = progress.get("started_at"), progress.get("finished_at")
        if started and finished:
            took = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
            time_left = f"none: it took {duration(took)}"
    elif seconds_left is None:
        time_left = "measured after the first steps"
    else:
        time_left = f"about {duration(seconds_left)}" if seconds_left >= 1 else "any moment, by its last report"
    phase = ""
    if scoring:
        phase = (
            "Training is done: the model is being scored now (the last validation, the test reviews, then the "
            f"serving and behavioural checks). Time left: {time_left}."
        )
    peak = config.get("learning_rate")
    warmup_steps = round((config.get("warmup_ratio") or 0) * max_steps)
    learning_rate = "0" if progress.get("learning_rate") == 0 else figure(progress.get("learning_rate"))
    if active and peak and progress.get("learning_rate") is not None and step < warmup_steps:
        learning_rate += f" (warm-up: it rises to {figure(float(peak))} over the first {warmup_steps:,} steps)"
    return {
        "time_left": time_left,
        "scoring": scoring,
        "phase": phase,
        "loss": figure(progress.get("loss")),
        "learning_rate": learning_rate,
        "learning_rate_peak": peak,
    }
