"""Which folders of the worker's machine a run launched from the site or the API may read (``DATA_ROOTS``).

Staff name a data folder or a local base model in the launch form; without a limit they could have the
worker read any folder it can (another deployment's runs, a home directory). A path is allowed when,
with every symbolic link resolved, it lies inside one of ``DATA_ROOTS``: by default the IMDb folder
(``IMDB_DATA_DIR``), the runs folder (a finished run's model is a base model) and the media folder (the
uploaded data sets). Names that are not paths (``imdb``, ``demo``, ``minilm``, a hub id) are not
folders and pass. ``manage.py train`` is run by someone at the machine, and is not limited.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

NOT_PATHS = {"imdb", "demo", "minilm"}


def data_roots() -> list[Path]:
    configured = settings.DATA_ROOTS or [settings.IMDB_DATA_DIR, settings.RUNS_DIR, settings.MEDIA_ROOT]
    return [Path(root).expanduser().resolve() for root in configured if root]


def local_path_refusal(value: str, *, what: str) -> str:
    """ "" when ``value`` may be read by a run launched from the site, else why not (naming no folder of
    the machine's: the message reaches the person who typed it)."""
    value = (value or "").strip()
    if not value or value in NOT_PATHS:
        return ""
    try:  # a name no file system takes (too long, say) is refused with the system's reason, not a 500
        path = Path(value).expanduser()
        looks_like_a_path = value.startswith((".", "/", "~", "\\")) or path.exists()
        if not looks_like_a_path:
            return ""  # a hub id, e.g. bert-base-uncased
        if not path.is_absolute():
            return f"{what} must be an absolute path (it is read on the training worker, not here)."
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: expanduser of an unknown ~user
        return f"{what} cannot be read as a path: {getattr(exc, 'strerror', None) or 'not a folder name'}."
    if any(resolved == root or resolved.is_relative_to(root) for root in data_roots()):
        return ""
    return f"{what} is outside the folders runs may read (DATA_ROOTS); ask the operator to add it there."
