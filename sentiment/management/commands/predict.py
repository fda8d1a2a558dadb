"""``manage.py predict``: label reviews with a saved model."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.serving.choice import PYTORCH, RUNTIMES
from ml.serving.inference import predictor_cache
from sentiment.management.options import dump_json, reasons_not_tracebacks


class Command(BaseCommand):
    help = "Label reviews as positive or negative with a saved model, with the model's confidence."

    def add_arguments(self, parser):
        parser.add_argument("model", help="A run's output folder (holding model/) or a saved model folder.")
        parser.add_argument("texts", nargs="*", help="Reviews to label (quote each one).")
        parser.add_argument("--file", help="A text file with one review per line ('-' reads standard input).")
        parser.add_argument(
            "--runtime",
            choices=RUNTIMES,
            default=PYTORCH,
            help="What computes the answers: PyTorch, or the model's ONNX export (manage.py export_onnx) in "
            "fp32 or int8 (faster on a CPU).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")

    def handle(self, *args, **options):
        texts = list(options["texts"]) + self._read_file(options["file"])
        texts = [t for t in (t.strip() for t in texts) if t]
        if not texts:
            raise CommandError("no review given: pass the text as an argument or use --file")
        with reasons_not_tracebacks():
            predictor = predictor_cache.get(options["model"], runtime=options["runtime"])
            predictions = predictor.predict(texts)
        rows = [
            {"text": text, "label": p.label, "probability": round(p.probability, 4)}
            for text, p in zip(texts, predictions, strict=True)
        ]
        if options["json"]:
            self.stdout.write(dump_json({"model_dir": str(predictor.model_dir), "predictions": rows}))
            return
        for row in rows:
            preview = row["text"] if len(row["text"]) <= 70 else row["text"][:67] + "..."
            self.stdout.write(f"{row['label']:>8}  {row['probability']:.3f}  {preview}")

    def _read_file(self, name: str | None) -> list[str]:
        if not name:
            return []
        try:
            if name == "-":
                return sys.stdin.read().splitlines()
            return Path(name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {name}: {exc}") from None
