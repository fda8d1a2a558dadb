"""Errors a person can act on.

Every failure that comes from the user's input (a config value, a data file, a model name) is raised as
an ``MLError`` whose message is one readable sentence. Commands print it as a one-line reason instead of
a traceback; the worker stores it on the run.
"""

import re


class MLError(Exception):
    """Base class: the message is shown to a person as is."""


Problem = tuple[str | None, str]  # (setting, message): no setting when the message is about several


class ConfigError(MLError):
    """A training setting is impossible or inconsistent.

    ``problems`` keeps each message with the setting it is about, so a form can show every message next
    to its field instead of guessing the field from the text (a message may itself contain "; ").
    ``str()`` joins them into the one readable line that commands print.
    """

    def __init__(self, message: str = "", *, problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = list(problems) if problems else [(None, message)]
        super().__init__(message or "; ".join(text for _, text in self.problems))


class DataError(MLError):
    """A data source cannot be found, read or used."""


class ModelError(MLError):
    """A base model or saved model cannot be found or loaded."""


_PATH = re.compile(r"""(?<![\w.:/\\])(?:~|[A-Za-z]:)?(?:[\\/][^\s'"\\/:,;()]+)+[\\/]?""")


def without_paths(text: str) -> str:
    """``text`` with every file or folder path replaced by "…": what a person outside the machine sees
    should not map its folders (the log keeps the whole message)."""
    return _PATH.sub("…", text)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), short enough for one sentence."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
