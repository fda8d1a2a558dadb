"""``manage.py check_behaviour RUN``: the behavioural checks (``ml.evaluation.behaviour``) on a finished run's model,
recorded with the run: for a run trained before the checks existed, or after the battery changed."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sentiment.management.options import dump_json
from sentiment.models import TrainingRun
from sentiment.services.checks import training_run_check_behaviour


class Command(BaseCommand):
    help = (
        "Run the behavioural checks (negation, contrast, typos, names, truncation...) on a finished run's model "
        "through the runtime that serves it, and record the pass rates with the run."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", type=int, help="The run's number (its id).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")

    def handle(self, *args, **options):
        run = TrainingRun.objects.filter(pk=options["run"]).first()
        if run is None:
            raise CommandError(f"There is no run #{options['run']}.")
        try:
            result = training_run_check_behaviour(run=run)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if options["json"]:
            self.stdout.write(dump_json(result))
            return
        for capability in result["capabilities"]:
            self.stdout.write(
                f"{capability['title']:<28} {capability['passed']:>3} of {capability['total']:<3} "
                f"{capability['pass_rate']:.0%}  ({capability['kind']})"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{run}: {result['passed']} of {result['total']} passed ({result['pass_rate']:.1%}), "
                f"battery version {result['version']}; recorded with the run."
            )
        )
