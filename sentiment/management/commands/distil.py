"""``manage.py distil TEACHER``: train a faster student of a finished run (``ml.training.distillation``).

TEACHER is a run id or a model folder. The student is a run like any other (the admin lists it, its page
compares it with its teacher), trained here with a progress bar; it takes ``train``'s options, each over the
student recipe (``ml.presets.STUDENT``) and the teacher's own settings.
"""

from __future__ import annotations

import socket

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from sentiment.management.commands.train import Command as TrainCommand
from sentiment.management.options import add_config_options, config_overrides
from sentiment.models import TrainingRun
from sentiment.services.distillation import training_run_distil
from sentiment.services.runs import training_run_claim


class Command(TrainCommand):
    help = (
        "Distil a finished run into a student with fewer layers that answers about twice as fast: it starts from "
        "the teacher's weights and learns from the teacher's answers beside the true labels. Recorded as a run."
    )

    def add_arguments(self, parser):
        parser.add_argument("teacher", help="The teacher: a finished run's id, or a model folder saved by a run.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON only.")
        parser.set_defaults(run_id=None, preset="distil", config=None)
        add_config_options(parser)

    def _create_and_claim(self, options) -> int:
        teacher = options["teacher"]
        try:
            if teacher.isdigit():
                found = TrainingRun.objects.filter(pk=int(teacher)).first()
                if found is None:
                    raise CommandError(f"there is no run #{teacher}: give a run id from the admin, or a model folder")
                run = training_run_distil(teacher=found, user=None, overrides=config_overrides(options),
                                          launched_from="command", enqueue=False)  # fmt: skip
            else:
                run = training_run_distil(model_dir=teacher, user=None, overrides=config_overrides(options),
                                          launched_from="command", enqueue=False)  # fmt: skip
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        training_run_claim(run_id=run.pk, worker=f"command@{socket.gethostname()}")
        return run.pk
