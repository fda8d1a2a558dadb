"""``manage.py api_token USERNAME``: create an API key for a person and print it (shown only once)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sentiment.management.database import database_ready
from sentiment.services.api_tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API key for USERNAME and print it; only its hash is stored, so keep it now."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the key is for.")

    def handle(self, *args, **options):
        database_ready()
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r} (create one with createsuperuser)")
        self.stdout.write(api_token_create(user=user, name=options["name"]))
