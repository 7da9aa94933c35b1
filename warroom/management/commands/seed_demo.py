"""Demo users, one per role, created idempotently. Their passwords are generated on first
run and kept in .run/demo-logins.txt (ignored by git), never in the repository."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from warroom import roles

DEMO_USERS = (
    ("manager", "Maya", "Ortiz", roles.COMMUNITY_MANAGER),
    ("legal", "Lena", "Brooks", roles.LEGAL),
    ("producer", "Priya", "Nair", roles.PRODUCER),
    ("lead", "Leo", "Park", roles.LEAD),
    ("admin", "Ada", "Kim", roles.ADMIN),
)


class Command(BaseCommand):
    help = "Create the demo users (one per role) and print their logins."

    def add_arguments(self, parser):
        parser.add_argument("--logins-file", default=str(Path(settings.BASE_DIR) / ".run" / "demo-logins.txt"))

    @transaction.atomic
    def handle(self, *args, logins_file: str, **options):
        roles.ensure_groups()
        path = Path(logins_file)
        known = {}
        if path.exists():
            for line in path.read_text().splitlines():
                username, _, password = line.partition(" ")
                known[username] = password
        User = get_user_model()
        logins = []
        for username, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
            password = known.get(username)
            if created or not password or not user.check_password(password):
                password = secrets.token_urlsafe(9)
                user.set_password(password)
            user.is_staff = user.is_superuser = role == roles.ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            logins.append((username, password, role))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{username} {password}\n" for username, password, _ in logins))
        path.chmod(0o600)
        for username, password, role in logins:
            self.stdout.write(f"  {role:<18} {username:<10} {password}")
