from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class SentimentConfig(AppConfig):
    name = "sentiment"
    verbose_name = "Review sentiment"

    def ready(self) -> None:
        """Make the folders of SQLite databases before any connection: SQLite creates a missing file but
        not its folder, and settings write nothing at import (on PostgreSQL nothing is written at all).
        Connect the receivers that delete files with their rows (``services.storage``, ``services.datasets``),
        and the model monitor's figures to ``/metrics``."""
        from sentiment.metrics.scrape import monitor_gauges_register
        from sentiment.selectors.monitor import monitor_gauges
        from sentiment.services import datasets, storage  # noqa: F401

        monitor_gauges_register(monitor_gauges)  # drift and the estimated accuracy at each scrape of /metrics

        for database in settings.DATABASES.values():
            if not database["ENGINE"].endswith("sqlite3"):
                continue
            for name in (database["NAME"], database.get("TEST", {}).get("NAME")):
                if name and str(name) != ":memory:" and not str(name).startswith("file:"):
                    Path(name).parent.mkdir(parents=True, exist_ok=True)
