"""`manage.py migrate`, run as the owner of the tables.

With MIGRATE_DATABASE_URL set, the migrations connect with it (the owner role) instead of
DATABASE_URL, and when they are done the owner grants the role DATABASE_URL names (the
one web, worker and beat run as) what the room needs and no more: SELECT, INSERT, UPDATE
and DELETE on every table, except the audit log, where it may only INSERT and SELECT, and
django_migrations, which it may only read; USAGE on every sequence. The grants are made
again on every migrate, so the tables a new migration adds are covered at once. Without
MIGRATE_DATABASE_URL (the test suite) one role does both, as Django's own migrate does."""

import dj_database_url
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections

CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
APPEND_ONLY = "warroom_auditentry"
READ_ONLY = "django_migrations"


def app_role_grant(connection, role: str) -> None:
    """The app role's privileges, granted by the owner on the connection's database."""
    role = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"REVOKE ALL ON {APPEND_ONLY}, {READ_ONLY} FROM {role}")
        cursor.execute(f"GRANT SELECT, INSERT ON {APPEND_ONLY} TO {role}")
        cursor.execute(f"GRANT SELECT ON {READ_ONLY} TO {role}")


class Command(migrate.Command):
    help = migrate.Command.help + " Connects as MIGRATE_DATABASE_URL's role when set, then grants DATABASE_URL's role its privileges."

    def handle(self, *args, **options):
        owner_url = settings.MIGRATE_DATABASE_URL if options["database"] == DEFAULT_DB_ALIAS else ""
        if not owner_url:
            return super().handle(*args, **options)
        connection = connections[options["database"]]
        app = {key: connection.settings_dict.get(key) for key in CONNECTION_KEYS}
        owner = {key: value for key, value in dj_database_url.parse(owner_url).items() if key in CONNECTION_KEYS}
        if owner["NAME"] != app["NAME"]:
            raise CommandError(
                f"MIGRATE_DATABASE_URL names the database {owner['NAME']!r} and DATABASE_URL {app['NAME']!r}: "
                "they must be the same database, reached as two roles."
            )
        connection.close()
        connection.settings_dict.update(owner)
        try:
            super().handle(*args, **options)
            if owner["USER"] != app["USER"] and not (options["plan"] or options["check_unapplied"]):
                app_role_grant(connection, app["USER"])
                if options["verbosity"] >= 1:
                    self.stdout.write(f"Granted {app['USER']} the app's privileges (audit log: INSERT and SELECT only).")
        finally:
            connection.close()
            connection.settings_dict.update(app)
