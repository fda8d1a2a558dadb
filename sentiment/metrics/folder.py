"""The folder where the processes of one server write their figures (prometheus_client's multiprocess mode).

gunicorn's workers and a Celery worker's pool are several processes; a scrape reaches one of them and must
report them all. So each process writes its figures to memory-mapped files of its own in one folder named
by ``PROMETHEUS_MULTIPROC_DIR``, and a scrape adds the files up. The variable must be set before
prometheus_client is first imported (it picks its storage then), and the folder emptied when the server
starts: files left by an earlier server would be counted again. Nothing here imports Django or
prometheus_client, so that a server's first process can call it before either.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# what prometheus_client writes there: counter_<pid>.db, gauge_<mode>_<pid>.db, histogram_<pid>.db...
FILE_PATTERNS = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


def metrics_folder_prepare() -> tuple[Path, bool]:
    """Make this process and the processes it starts write their figures to one folder, emptied of an
    earlier server's files: ``PROMETHEUS_MULTIPROC_DIR`` when set, else a new temporary folder (whose path
    is then set in the environment). Returns the folder and whether it was made here (to remove at exit).

    Raises RuntimeError when prometheus_client was imported before without the folder: that process's
    figures would then stay in its own memory, where no scrape of the others sees them."""
    given = os.environ.get(VARIABLE)
    if "prometheus_client.values" in sys.modules and not given:
        raise RuntimeError(
            "prometheus_client was imported before the metrics folder was set up: "
            f"set {VARIABLE} before the server starts, or import nothing that counts before it"
        )
    if given:
        folder, made = Path(given), False
        folder.mkdir(parents=True, exist_ok=True)
        own = f"_{os.getpid()}.db"  # this process's own, should it count already: kept
        for pattern in FILE_PATTERNS:
            for stale in folder.glob(pattern):
                if not stale.name.endswith(own):
                    stale.unlink(missing_ok=True)
    else:
        folder, made = Path(tempfile.mkdtemp(prefix="sentiment-metrics-")), True
        os.environ[VARIABLE] = str(folder)
    return folder, made


def metrics_folder_ensure() -> None:
    """Make the folder ``PROMETHEUS_MULTIPROC_DIR`` names, if it names one and it is missing: a process
    counts as soon as its figures are defined (a worker's, while Django checks itself as it starts)."""
    if given := os.environ.get(VARIABLE):
        Path(given).mkdir(parents=True, exist_ok=True)


def metrics_folder_remove(folder: Path) -> None:
    """Remove a folder ``metrics_folder_prepare`` made, when its server stops."""
    shutil.rmtree(folder, ignore_errors=True)


def metrics_process_dead(pid: int) -> None:
    """A process of the server ended: its live gauges no longer count (its counters and histograms do, as
    prometheus_client's multiprocess mode requires)."""
    if os.environ.get(VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
