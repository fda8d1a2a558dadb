"""Shared pieces of the train / evaluate / predict commands.

Every ``TrainingConfig`` field becomes a command-line option whose help is the field's own explanation,
so ``manage.py train --help`` doubles as the glossary and never drifts from the code.
"""

from __future__ import annotations

import argparse
import contextlib
import json

from django.core.management.base import CommandError

from ml.config import config_fields
from ml.errors import MLError

_TYPES = {"str": str, "int": int, "float": float, "int | None": int, "float | None": float}


def add_config_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training settings (each overrides the preset)")
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"].replace("%", "%%")
        if f.type == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(
                flag, type=_TYPES[f.type], default=None, choices=f.metadata.get("choices"), help=help_text
            )


def config_overrides(options: dict) -> dict:
    """The config fields given on the command line (None = not given)."""
    return {f.name: options.get(f.name) for f in config_fields() if options.get(f.name) is not None}


@contextlib.contextmanager
def reasons_not_tracebacks():
    """Turn a person-facing ``MLError`` into Django's one-line ``CommandError`` (exit status 1)."""
    try:
        yield
    except MLError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        raise CommandError("interrupted") from None


def dump_json(data) -> str:
    return json.dumps(data, indent=2, default=str)
