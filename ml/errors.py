"""Errors a person can act on.

Every failure that comes from the user's input (a config value, a data file, a model name) is raised as
an ``MLError`` whose message is one readable sentence. Commands print it as a one-line reason instead of
a traceback; the worker stores it on the run.
"""


class MLError(Exception):
    """Base class: the message is shown to a person as is."""


class ConfigError(MLError):
    """A training setting is impossible or inconsistent."""


class DataError(MLError):
    """A data source cannot be found, read or used."""


class ModelError(MLError):
    """A base model or saved model cannot be found or loaded."""
