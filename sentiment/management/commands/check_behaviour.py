"""``manage.py check_behaviour RUN``: the behavioural checks (``ml.evaluation.behaviour``) and the out-of-domain
check (``ml.evaluation.out_of_domain``) on a finished run's model, recorded with the run: for a run trained before
the checks existed, or after the battery or the set changed."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sentiment.management.options import dump_json
from sentiment.models import TrainingRun
from sentiment.services.checks import training_run_check_behaviour


class Command(BaseCommand):
    help = (
        "Run the behavioural checks (negation, contrast, typos, names, truncation...) on a finished run's model "
        "and the out-of-domain set of short reviews through the runtime that serves it, and record the results "
        "with the run."
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
        ood = result["out_of_domain"]
        self.stdout.write(
            f"{'Out of domain (short reviews)':<28} {ood['right']:>3} of {ood['reviews']:<3} {ood['accuracy']:.1%}"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{run}: {result['passed']} of {result['total']} passed ({result['pass_rate']:.1%}), "
                f"battery version {result['version']}, out-of-domain set version {ood['version']}; "
                "recorded with the run."
            )
        )
