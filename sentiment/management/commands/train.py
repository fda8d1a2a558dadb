"""``manage.py train``: fine-tune a model headless, recorded as a run in the database.

Without ``--run-id`` it creates a run (the admin lists it like any other) and trains it here, with a
progress bar. With ``--run-id N`` it trains run N, launched from the site: this is what the worker
starts as a child process, so both paths are the same code.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import structlog
from django.core.management.base import BaseCommand

from ml.config import TrainingConfig
from ml.errors import ConfigError
from ml.presets import PRESETS, config_from_preset, presets_described
from sentiment.management.database import database_ready
from sentiment.management.options import add_config_options, config_overrides, dump_json, reasons_not_tracebacks
from sentiment.selectors.feedback import corrections_file
from sentiment.services.run_execution import training_run_execute
from sentiment.services.runs import training_run_claim, training_run_create


class Command(BaseCommand):
    help = (
        "Fine-tune a BERT-family model on movie reviews with the Hugging Face Trainer. Start from a "
        "preset and override any setting. Writes the model, its tokenizer, the "
        "config, the log history and metrics.json into the output folder, and records the run in the "
        "database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            default="smoke",
            help=f"Starting recipe: {presets_described()}. Default: smoke.",
        )
        parser.add_argument(
            "--config",
            help="A JSON file of settings (as saved in training_config.json) to start from instead of a preset.",
        )
        parser.add_argument("--run-id", type=int, help="Train run N as launched from the site (what the worker runs).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")
        add_config_options(parser)

    def handle(self, *args, **options):
        database_ready()
        quiet = options["json"] or options["run_id"]
        # The Trainer prints its log lines to stdout; with --json, stdout carries the result only.
        to_stderr = contextlib.redirect_stdout(self.stderr._out) if options["json"] else contextlib.nullcontext()
        with reasons_not_tracebacks(), to_stderr:
            run_id = options["run_id"] or self._create_and_claim(options)
            if not quiet:
                self.stdout.write(f"Run #{run_id}: training (progress below; the admin shows it too)")
            progress_bar = options["verbosity"] > 0 and not options["run_id"]  # no bars in the worker's log
            with structlog.contextvars.bound_contextvars(run_id=run_id):  # on each line logged meanwhile
                run = training_run_execute(run_id=run_id, progress_bar=progress_bar)
        summary = {"run_id": run.pk, "status": run.status, "output_dir": run.output_dir, "model_dir": run.model_dir}
        summary.update(run.results.to_json())
        if options["json"]:
            self.stdout.write(dump_json(summary))
            return
        results = run.results
        for note in results.data.notes:
            self.stdout.write(f"Note: {note}")
        test = results.test
        self.stdout.write(
            f"Run #{run.pk} {run.status} on {run.device} ({run.precision}) in {_number(results.wall_seconds, 0):.0f} "
            f"s: test accuracy {_number(test.accuracy):.4f}, F1 {_number(test.f1):.4f} on {test.examples or 0} reviews"
        )
        self.stdout.write(self.style.SUCCESS(f"Model saved in {run.model_dir}"))

    def _create_and_claim(self, options) -> int:
        config = self._config(options)
        run = training_run_create(
            user=None, config=config, preset=options["preset"], launched_from="command", enqueue=False
        )
        training_run_claim(run_id=run.pk, worker=f"command@{socket.gethostname()}")
        return run.pk

    def _config(self, options) -> TrainingConfig:
        overrides = config_overrides(options)
        if options["config"]:
            try:
                text = Path(options["config"]).read_text()
            except OSError as exc:
                raise ConfigError(f"cannot read {options['config']}: {exc.strerror}") from None
            return TrainingConfig.from_json(text).replace(**overrides)
        overrides.setdefault("corrections_file", corrections_file())  # users' accepted corrections
        return config_from_preset(options["preset"], **overrides)


def _number(value: float | None, missing: float = float("nan")) -> float:
    """A figure the run did not record (a stopped run has no test scores) is printed as ``missing``."""
    return missing if value is None else value
