"""``manage.py migrate``, one at a time on PostgreSQL: Django's own command, under an advisory lock.

Every web container applies migrations as it starts (docker-compose.yml), and with ``--scale web=N`` the
replicas start together: two ``migrate`` at once on an empty database both try to create the same tables,
and one fails (``relation already exists``), so its container exits. Here the second waits for the first
(``pg_advisory_lock``, held by the migrating connection, released when it ends or its process dies), then
finds nothing left to do. SQLite serialises writers itself, so it is left as Django runs it.
"""

from __future__ import annotations

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

# Any 64-bit number that nothing else locks: "sentimig" in ASCII.
MIGRATE_LOCK = int.from_bytes(b"sentimig", "big") - 2**63


class Command(DjangoMigrate):
    help = (
        DjangoMigrate.help
        + " On PostgreSQL, one migrate at a time (an advisory lock): several web replicas may start together."
    )

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return super().handle(*args, **options)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK])
        try:
            return super().handle(*args, **options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK])
