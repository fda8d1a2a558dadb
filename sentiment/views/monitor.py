"""The model monitor (staff, ``sentiment.permissions``): how the site and the served model are doing, set
against the served run's own test reviews. The figures are ``selectors.monitor``'s; this page only draws
them."""

from __future__ import annotations

from dataclasses import asdict
from itertools import pairwise

from django.shortcuts import render
from django.views import View

from ml.evaluation.drift import DRIFT_THRESHOLD, MIN_ANSWERS
from sentiment.permissions import TrainingStaffRequiredMixin
from sentiment.selectors.monitor import CONFIDENCE_EDGES, WINDOWS, model_monitor


class MonitorView(TrainingStaffRequiredMixin, View):
    def get(self, request):
        window = request.GET.get("window", "day")
        if window not in WINDOWS:
            window = "day"
        monitor = model_monitor(window=window)
        labels = [f"{low:.2f}–{high:.2f}" for low, high in pairwise(CONFIDENCE_EDGES)]
        charts = {
            "traffic": monitor.traffic,
            "confidence": {
                "labels": labels,
                "live": monitor.confidence_shares,
                "test": monitor.test_confidence_shares,
            },
            "drift": [asdict(signal) for signal in monitor.drift.signals] if monitor.drift else [],
        }
        return render(
            request,
            "sentiment/monitor.html",
            {
                "monitor": monitor,
                "windows": list(WINDOWS),
                "charts": charts,
                "threshold": DRIFT_THRESHOLD,
                "min_answers": MIN_ANSWERS,
            },
        )
