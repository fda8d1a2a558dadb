"""``manage.py export_onnx MODEL``: the serving check for a model trained before it existed: export to
ONNX Runtime (fp32 and int8, checked against PyTorch), score every runtime on test reviews, and record
the check with the runs of that model so that ``SERVE_RUNTIME=auto`` can choose (``ml.serving.check``)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from ml.data.sources import load_reviews
from ml.evaluation.test_scores import evaluation_limits, saved_training_config
from ml.results import ServingCheck
from ml.serving.check import serving_check
from ml.serving.labeller import resolve_model_dir
from sentiment.management.options import dump_json, reasons_not_tracebacks
from sentiment.services.runs import training_runs_record_serving_check


class Command(BaseCommand):
    help = (
        "Export a saved model (a run's output folder or a model folder) to ONNX, fp32 and int8, into its "
        "onnx/ folder, check both against PyTorch, score every runtime on test reviews of the data it was "
        "trained on, and record that serving check with the runs of the model."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", help="A run's output folder (holding model/) or a saved model folder.")
        parser.add_argument("--check-reviews", type=int, default=1000, help="Test reviews to score each runtime on.")
        parser.add_argument("--json", action="store_true", help="Print the check as JSON only.")

    def handle(self, *args, **options):
        with reasons_not_tracebacks():
            folder = resolve_model_dir(options["model"])
            trained = saved_training_config(folder)
            limits = evaluation_limits(trained, max_test=options["check_reviews"])
            dataset = trained.dataset if trained else "imdb"
            test = load_reviews(dataset, limits=limits, imdb_dir=settings.IMDB_DATA_DIR).test
            check = serving_check(folder, list(test["text"]), list(test["label"]))
        runs = training_runs_record_serving_check(model_dir=folder, check=check)
        if options["json"]:
            self.stdout.write(dump_json({**check, "recorded_with_runs": runs}))
            return
        measured = ServingCheck.from_json(check)
        export = measured.export
        if export.error:
            self.stderr.write(f"Not exported: {export.error}")
        else:
            for variant, path in export.files.items():
                self.stdout.write(
                    f"{variant}: {path} — P(positive) within {export.max_difference[variant]:.2g} of "
                    f"PyTorch's, same label on {export.label_agreement[variant]:.1%} of "
                    f"{export.checked_texts} test reviews"
                )
        for runtime, scores in measured.runtimes.items():
            self.stdout.write(
                f"{runtime}: accuracy {scores.accuracy:.3f} ({scores.accuracy_loss_points:+.2f} points lost), "
                f"{scores.ms_per_review:.1f} ms per review, {scores.reviews_per_second} reviews/s"
            )
        recorded = ", ".join(f"#{pk}" for pk in runs) or "no run (a folder the site does not know)"
        self.stdout.write(self.style.SUCCESS(f"Checked on {measured.reviews} test reviews; recorded with {recorded}."))
