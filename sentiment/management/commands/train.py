"""``manage.py train``: fine-tune a model headless, from a preset plus any overrides."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from ml.config import TrainingConfig
from ml.presets import PRESETS, config_from_preset
from ml.training import train_model
from sentiment.management.options import add_config_options, config_overrides, dump_json, reasons_not_tracebacks


class Command(BaseCommand):
    help = (
        "Fine-tune a BERT-family model on movie reviews with the Hugging Face Trainer. Start from a "
        "preset (tutorial, fast, smoke) and override any setting. Writes the model, its tokenizer, the "
        "config, the log history and metrics.json into --output-dir."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            default="smoke",
            help="Starting recipe: 'tutorial' (the original, slow), 'fast' (GPU), 'smoke' (minutes on a CPU, "
            "offline). Default: smoke.",
        )
        parser.add_argument(
            "--config",
            help="A JSON file of settings (as saved in training_config.json) to start from instead of a preset.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")
        add_config_options(parser)

    def handle(self, *args, **options):
        with reasons_not_tracebacks():
            config = self._config(options)
            if not options["json"]:
                self.stdout.write(f"Training {config.base_model} on {config.dataset} -> {config.output_dir}")
            # The Trainer prints its log lines to stdout; with --json, stdout carries the result only.
            quiet = contextlib.redirect_stdout(self.stderr._out) if options["json"] else contextlib.nullcontext()
            with quiet:
                result = train_model(config, imdb_dir=settings.IMDB_DATA_DIR, progress_bar=options["verbosity"] > 0)
        summary = {
            "output_dir": result.output_dir,
            "model_dir": result.model_dir,
            "stopped": result.stopped,
            **result.metrics,
        }
        if options["json"]:
            self.stdout.write(dump_json(summary))
            return
        test = result.metrics.get("test", {})
        for note in result.metrics["data"]["notes"]:
            self.stdout.write(f"Note: {note}")
        self.stdout.write(
            f"Trained on {result.metrics['device']} ({result.metrics['precision']}) in "
            f"{result.metrics['wall_seconds']:.0f} s: test accuracy {test.get('accuracy', float('nan')):.4f}, "
            f"F1 {test.get('f1', float('nan')):.4f} on {test.get('examples', 0)} reviews"
        )
        self.stdout.write(self.style.SUCCESS(f"Model saved in {result.model_dir}"))

    def _config(self, options) -> TrainingConfig:
        overrides = config_overrides(options)
        if options["config"]:
            try:
                text = Path(options["config"]).read_text()
            except OSError as exc:
                from ml.errors import ConfigError

                raise ConfigError(f"cannot read {options['config']}: {exc.strerror}") from None
            config = TrainingConfig.from_json(text).replace(**overrides)
        else:
            config = config_from_preset(options["preset"], **overrides)
        if not config.output_dir:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            config = config.replace(output_dir=str(Path(settings.RUNS_DIR) / f"{options['preset']}-{stamp}"))
        return config
