"""Walk the audit log's hash chain and name the first broken link (exit status 1), or say
how many entries hold and the newest hash (keep it somewhere else: a chain whose newest
entries were cut off still holds, and only a hash noted earlier shows what is missing)."""

from django.core.management.base import BaseCommand, CommandError

from warroom import audit


class Command(BaseCommand):
    help = "Check that no audit entry was changed, removed or put in since it was written."

    def handle(self, *args, **options):
        verdict = audit.verify()
        if not verdict.intact:
            raise CommandError(
                f"The audit chain is broken at entry #{verdict.broken_id}. {verdict.problem} "
                f"The {verdict.entries} entries before it hold."
            )
        self.stdout.write(f"The audit chain holds: {verdict.entries} entries, newest hash {verdict.head}.")
