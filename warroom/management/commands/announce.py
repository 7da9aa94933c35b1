"""Send an announcement to the room from the command line (as a given lead or admin)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from warroom import roles, services
from warroom.errors import WarroomError


class Command(BaseCommand):
    help = "Announce something to everyone in the room, as a lead or admin user."

    def add_arguments(self, parser):
        parser.add_argument("text")
        parser.add_argument("--as", dest="username", required=True)
        parser.add_argument("--urgent", action="store_true")

    def handle(self, *args, text: str, username: str, urgent: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not roles.has_role(user, roles.PAGE_ROLES["announce"]):
            raise CommandError(f"{username} is not a lead or admin and cannot announce.")
        try:
            announcement = services.announcement_post(author=user, text=text, level="urgent" if urgent else "info")
        except WarroomError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"announced #{announcement.id}")
