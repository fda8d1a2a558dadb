"""``manage.py export_onnx MODEL``: export a trained model for ONNX Runtime (fp32 and int8), checked
against PyTorch on test reviews (``ml.onnx_export``)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from ml.data import load_reviews
from ml.evaluation import evaluation_limits, saved_training_config
from ml.onnx_export import onnx_export
from sentiment.management.options import dump_json, reasons_not_tracebacks


class Command(BaseCommand):
    help = (
        "Export a saved model (a run's output folder or a model folder) to ONNX, fp32 and int8, into its "
        "onnx/ folder, and check both against PyTorch on test reviews of the data it was trained on."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", help="A run's output folder (holding model/) or a saved model folder.")
        parser.add_argument(
            "--check-reviews", type=int, default=300, help="Test reviews to compare the exports with PyTorch on."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON only.")

    def handle(self, *args, **options):
        with reasons_not_tracebacks():
            trained = saved_training_config(options["model"])
            limits = evaluation_limits(trained, max_test=options["check_reviews"])
            dataset = trained.dataset if trained else "imdb"
            texts = list(load_reviews(dataset, limits=limits, imdb_dir=settings.IMDB_DATA_DIR).test["text"])
            report = onnx_export(options["model"], check_texts=texts)
        if options["json"]:
            self.stdout.write(dump_json(vars(report)))
            return
        for variant, path in report.files.items():
            self.stdout.write(
                f"{variant}: {path} — P(positive) within {report.max_difference[variant]:.2g} of PyTorch's, "
                f"same label on {report.label_agreement[variant]:.1%} of {report.checked_texts} test reviews"
            )
        self.stdout.write(self.style.SUCCESS(f"Exported in {report.seconds:.0f} s."))
