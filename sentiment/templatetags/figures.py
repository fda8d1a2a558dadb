"""Figures as people read them: ``{{ value|figure }}`` (— for nothing; scores to three decimals, small
figures with their significant digits, large ones with thousands separated) and ``{{ rate|percent }}``
(a share 0..1 as a percentage)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def figure(value, unit: str = ""):
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
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
    """Seconds as a person reads a duration: 45 s, 6 min 10 s, 2.5 h."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return f"{seconds / 3600:.1f} h"


@register.filter
def gib(size):
    """Bytes in GiB, one decimal."""
    return "—" if size in (None, "") else f"{int(size) / 2**30:.1f} GiB"
