"""``manage.py evaluate``: score a saved model on the test reviews of a data source."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from ml.evaluation.test_scores import (
    evaluate_saved_model,
    evaluation_limits,
    saved_training_config,
    training_test_accuracy,
)
from sentiment.management.options import dump_json, reasons_not_tracebacks


class Command(BaseCommand):
    help = (
        "Score a saved model (a run's output folder or a model folder) on test reviews: accuracy, "
        "precision, recall, F1, ROC AUC and the confusion matrix. Without options it re-creates the test "
        "sample the model was scored on when it was trained."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", help="A run's output folder (holding model/) or a saved model folder.")
        parser.add_argument(
            "--dataset", help="Data source: imdb, demo or a folder. Default: the one the model was trained on."
        )
        parser.add_argument(
            "--max-test-examples",
            type=int,
            help="Score a seeded sample of this many test reviews. Default: as in training.",
        )
        parser.add_argument("--seed", type=int, help="Seed of the test sample. Default: as in training.")
        parser.add_argument(
            "--int8",
            choices=["off", "on", "compare"],
            default="off",
            help="Dynamic int8 quantization for the CPU: 'on' scores the quantized model, 'compare' scores both "
            "and reports the accuracy cost.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=64, help="Reviews per forward pass (speed and memory only)."
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")

    def handle(self, *args, **options):
        with reasons_not_tracebacks():
            trained = saved_training_config(options["model"])
            dataset = options["dataset"] or (trained.dataset if trained else "imdb")
            limits = evaluation_limits(trained, seed=options["seed"], max_test=options["max_test_examples"])
            variants = {"off": [False], "on": [True], "compare": [False, True]}[options["int8"]]
            results = [
                evaluate_saved_model(
                    options["model"],
                    dataset=dataset,
                    limits=limits,
                    imdb_dir=settings.IMDB_DATA_DIR,
                    int8=int8,
                    batch_size=options["batch_size"],
                )
                for int8 in variants
            ]
        report = {"results": results, "trained_test_accuracy": training_test_accuracy(options["model"])}
        if len(results) == 2:
            report["int8_accuracy_cost"] = round(results[0]["accuracy"] - results[1]["accuracy"], 4)
        if options["json"]:
            self.stdout.write(dump_json(report))
            return
        for r in results:
            kind = "int8" if r["int8"] else "fp32"
            self.stdout.write(
                f"{kind}: accuracy {r['accuracy']:.4f}, precision {r['precision']:.4f}, recall {r['recall']:.4f}, "
                f"F1 {r['f1']:.4f}, ROC AUC {r['roc_auc']:.4f} on {r['examples']} reviews of {r['data']['source']} "
                f"({r['samples_per_second']} reviews/s)"
            )
            self.stdout.write(f"      confusion matrix [[TN, FP], [FN, TP]]: {r['confusion_matrix']}")
        if report["trained_test_accuracy"] is not None:
            self.stdout.write(f"Test accuracy recorded at training time: {report['trained_test_accuracy']:.4f}")
        if "int8_accuracy_cost" in report:
            self.stdout.write(f"int8 costs {report['int8_accuracy_cost'] * 100:.2f} accuracy points")
