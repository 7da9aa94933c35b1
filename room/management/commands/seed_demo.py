"""The demo room, created idempotently: a user per role (passwords generated on first run
and kept in .run/demo-logins.txt, ignored by git, never in the repository), the demo
source replaying a Super Bowl night, the alert rules a brand would set for it, and a
Super Bowl playbook (playbooks/demo/superbowl.yaml) a week away with its drafts sent to
legal (the first one already cleared by the demo legal user, so a fire can be tried at
once) and a sandbox account to drill it on."""

import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from approvals import services as approvals
from approvals.models import Account, Post
from approvals.services import CHECKLIST
from listening import services as listening
from listening.models import AlertRule, Source
from playbooks import services as playbooks
from playbooks import yaml_io
from playbooks.models import Event, Variant
from triage import services as triage
from triage.models import Team, TriageRule
from warroom import roles

from ...models import CrisisContact

# Who is reached when a crisis is declared (example.com: nothing leaves the demo).
DEMO_CONTACTS = (
    ("Dana Ruiz (head of PR)", "dana.ruiz@example.com", True),
    ("Sam Okafor (general counsel)", "sam.okafor@example.com", False),
    ("CEO's office", "ceo.office@example.com", False),
)
HOLDING_STATEMENT = ("We are aware of reports near Bayfront Stadium and have paused our posts tonight. "
                     "Our thoughts are with everyone there. Please follow local authorities.")

DEMO_USERS = (
    ("manager", "Maya", "Ortiz", roles.COMMUNITY_MANAGER),
    ("legal", "Lena", "Brooks", roles.LEGAL),
    ("producer", "Priya", "Nair", roles.PRODUCER),
    ("lead", "Leo", "Park", roles.LEAD),
    ("admin", "Ada", "Kim", roles.ADMIN),
    ("counsel", "Sam", "Reyes", roles.LEGAL),  # the brand account's backup approver: a backup holds the step's role
)

DEMO_RULES = (
    {"name": "Blackout spike", "kind": AlertRule.Kind.SPIKE, "query": 'blackout OR "lights out" OR "power outage" OR outage',
     "priority": "P2", "spike_window_minutes": 2, "spike_baseline_minutes": 20, "spike_factor": 3, "spike_min_count": 15},
    {"name": "Tragedy lexicon", "kind": AlertRule.Kind.CRISIS, "declare_crisis": True, "pause_queue": True,
     "query": 'shooting OR "shots fired" OR "active shooter" OR explosion OR evacuat* OR "stay away" OR injured OR '
              'casualties OR stampede OR "bomb threat"'},
    {"name": "Safety scare", "kind": AlertRule.Kind.CRISIS,
     "query": '"allergic reaction" OR peanut* OR "got sick" OR recall OR hospital OR ER', "open_case": True},
    {"name": "Angry customers", "kind": AlertRule.Kind.SENTIMENT, "query": "", "sentiment_at_most": -0.6, "priority": "P2",
     "open_case": True},
    {"name": "Big voices", "kind": AlertRule.Kind.INFLUENCE, "query": "", "min_followers": 1_000_000, "priority": "P2"},
    {"name": "Our ad", "kind": AlertRule.Kind.KEYWORD, "query": '#Crunchwave OR @Crunchwave OR "crunchwave ad"', "priority": "P4",
     "alert_room": False},
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
        lead = User.objects.get(username="lead")
        Account.objects.get_or_create(handle="Crunchwave", defaults={
            "name": "Crunchwave", "time_zone": "America/New_York",
            "backup_approver": User.objects.get(username="counsel")})
        self._networks(lead)
        if not Source.objects.filter(kind=Source.Kind.DEMO).exists():
            listening.source_create(
                user=lead, name="Super Bowl night (demo replay)", kind=Source.Kind.DEMO, query_text="speed=10", poll_interval=5
            )
        existing = set(AlertRule.objects.values_list("name", flat=True))
        for rule in DEMO_RULES:
            if rule["name"] not in existing:
                listening.rule_create(user=lead, **rule)
        self._playbook(User.objects.get(username="producer"))
        self._crisis(lead, User.objects.get(username="producer"), User.objects.get(username="legal"))
        for username, password, role in logins:
            self.stdout.write(f"  {role:<18} {username:<10} {password}")

    def _networks(self, lead) -> None:
        """Crunchwave on Mastodon, Bluesky and Reddit, and a source on each, when `make run`
        started their loopback fakes (MASTODON_, BLUESKY_, REDDIT_API_BASE_URL): the demo then
        hears and posts on them without credentials."""
        if settings.MASTODON_API_BASE_URL:
            Account.objects.get_or_create(handle="crunchwave", platform="mastodon", defaults={
                "name": "Crunchwave on Mastodon", "time_zone": "America/New_York",
                "instance_url": "https://mastodon.example", "secret": "demo-mastodon-token"})
            if not Source.objects.filter(kind=Source.Kind.MASTODON_TAG).exists():
                listening.source_create(user=lead, name="#Crunchwave on Mastodon (demo fake)", kind=Source.Kind.MASTODON_TAG,
                                        query_text="#Crunchwave", poll_interval=10,
                                        instance_url="https://mastodon.example", secret="demo-mastodon-token")
        if settings.BLUESKY_API_BASE_URL:
            Account.objects.get_or_create(handle="crunchwave.bsky.social", platform="bluesky", defaults={
                "name": "Crunchwave on Bluesky", "time_zone": "America/New_York", "secret": "demo-app-password"})
            if not Source.objects.filter(kind=Source.Kind.BLUESKY_MENTIONS).exists():
                listening.source_create(user=lead, name="Mentions of Crunchwave on Bluesky (demo fake)",
                                        kind=Source.Kind.BLUESKY_MENTIONS, query_text="", poll_interval=10,
                                        login="crunchwave.bsky.social", secret="demo-app-password")
        if getattr(settings, "REDDIT_API_BASE_URL", ""):
            app = {"client_id": "demo-reddit-app", "client_secret": "demo-reddit-secret"}
            Account.objects.get_or_create(handle="crunchwave", platform="reddit", defaults={
                "name": "Crunchwave on Reddit", "time_zone": "America/New_York", "secret": "demo-reddit-password",
                "community": "snacks", **app})
            if not Source.objects.filter(kind=Source.Kind.REDDIT_COMMENTS).exists():
                listening.source_create(user=lead, name="Crunchwave in r/snacks comments (demo fake)",
                                        kind=Source.Kind.REDDIT_COMMENTS, query_text="Crunchwave", poll_interval=10,
                                        community="snacks", **app)

    def _crisis(self, lead, producer, legal) -> None:
        """The crisis team (a triage rule sending the tragedy rule's cases to it at P1), the
        contact tree, and a holding statement legal cleared ahead of time."""
        rule = AlertRule.objects.get(name="Tragedy lexicon")
        if not TriageRule.objects.filter(name="Crisis team").exists():
            triage.triage_rule_create(user=lead, name="Crisis team", alert_rule=rule.id, team=Team.CRISIS,
                                      priority="P1", tags=["crisis"])
        for order, (name, email, slack) in enumerate(DEMO_CONTACTS):
            CrisisContact.objects.get_or_create(name=name, defaults={"email": email, "slack": slack, "order": order})
        if Post.objects.filter(holding=True).exists():
            return
        account = Account.objects.get(handle="Crunchwave")
        post = approvals.post_create(author=producer, account_id=account.id, text=HOLDING_STATEMENT, holding=True)
        approvals.post_submit(post_id=post.id, user=producer, checklist={q: True for q in CHECKLIST})
        post.refresh_from_db()
        approvals.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())

    def _playbook(self, producer) -> None:
        Account.objects.get_or_create(handle="Crunchwave_sandbox", defaults={
            "name": "Crunchwave sandbox (drills)", "time_zone": "America/New_York", "sandbox": True})
        if Event.objects.filter(name="Super Bowl LX (demo)").exists():
            return
        start = (timezone.now() + timedelta(days=7)).replace(minute=30, second=0, microsecond=0)
        at = {"start": start, "kickoff": start + timedelta(minutes=5), "ad": start + timedelta(minutes=50),
              "halftime": start + timedelta(hours=2), "end": start + timedelta(hours=4)}
        text = (Path(settings.BASE_DIR) / "playbooks" / "demo" / "superbowl.yaml").read_text()
        for key, moment in at.items():
            text = text.replace("{" + key + "}", moment.isoformat())
        event = yaml_io.playbook_import(user=producer, text=text)
        ticked = {question: True for question in [*CHECKLIST, *event.guardrails.get("checklist", [])]}
        variants = list(Variant.objects.filter(scenario__event=event).select_related("post").order_by("scenario__order", "scenario__id", "order", "id"))
        for variant in variants:
            playbooks.variant_submit(user=producer, variant_id=variant.id, checklist=ticked)
        # Legal's Yes through the approvals service, as a click would give it: audited, bound to the exact text.
        cleared = variants[0].post
        cleared.refresh_from_db()
        approvals.post_approve(post_id=cleared.id, user=get_user_model().objects.get(username="legal"),
                               content_hash=cleared.content_hash())
