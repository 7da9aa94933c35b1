"""Every network the room publishes on, behind one face for tests that must hold on each
(the pause, exactly-once, needs-check, approval binding): its running loopback fake, an
account on it, the settings and worker environment that point the room there, and how to
make the fake fail the create call itself.

    @pytest.fixture(params=NETWORKS)
    def network(request, settings, db): ...   # see `network_fixture`

    network.fake.posts          # what the network accepted (each has .id and .text)
    network.fail_publish(status=429, reset_in=120)
    network.worker_env(TIMEOUT="120")    # TIMEOUT becomes <NETWORK>_TIMEOUT_SECONDS
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bluesky import FakeBluesky
from .mastodon import FakeMastodon
from .reddit import FakeReddit
from .x_api import FakeXAPI

NETWORKS = ("x", "mastodon", "bluesky", "reddit")
BLUESKY_PASSWORD = "abcd-efgh-ijkl-mnop"
MASTODON_TOKEN = "mastodon-test-token"
REDDIT_APP = ("warroom-app-id", "warroom-app-secret")
REDDIT_PASSWORD = "reddit-test-password"


@dataclass
class Network:
    kind: str
    label: str
    fake: Any
    account_fields: dict
    base_setting: str
    timeout_setting: str
    create_path: str
    env: dict = field(default_factory=dict)

    def fail_publish(self, status: int | None = None, **kwargs):
        """A failure on the call that creates the post (not a login or a lookup before it)."""
        return self.fake.fail_next(status, path=self.create_path, **kwargs) if self.kind != "x" else \
            self.fake.fail_next(status, **kwargs)

    def refusal(self, reason: str) -> dict:
        """The body this network sends with a 403 that names `reason`."""
        return {"x": {"title": "Forbidden", "detail": reason, "type": "about:blank", "status": 403},
                "mastodon": {"error": reason},
                "bluesky": {"error": "AccountTakedown", "message": reason},
                "reddit": {"message": "Forbidden", "error": 403, "reason": reason}}[self.kind]

    def worker_env(self, **extra) -> dict:
        env = dict(self.env)
        if "TIMEOUT" in extra:
            env[self.timeout_setting] = extra.pop("TIMEOUT")
        return {**env, **extra}

    def point(self, settings, url: str | None = None) -> None:
        setattr(settings, self.base_setting, url or self.fake.url)


def start(kind: str):
    """(fake, Network) for `kind`, the fake started; stop it with fake.stop()."""
    if kind == "x":
        fake = FakeXAPI().start()
        fake.reject_duplicates = False
        return Network("x", "X", fake, {"handle": "brand"}, "X_API_BASE_URL", "X_TIMEOUT_SECONDS", "/2/tweets",
                       {"X_API_BASE_URL": fake.url, "X_BEARER_TOKEN": "test"})
    if kind == "mastodon":
        fake = FakeMastodon().start()
        fake.tokens = {MASTODON_TOKEN}
        return Network("mastodon", "Mastodon", fake,
                       {"handle": "brand", "instance_url": "https://mastodon.example", "secret": MASTODON_TOKEN},
                       "MASTODON_API_BASE_URL", "MASTODON_TIMEOUT_SECONDS", "/api/v1/statuses",
                       {"MASTODON_API_BASE_URL": fake.url})
    if kind == "bluesky":
        fake = FakeBluesky().start()
        fake.add_user("brand.bsky.social", BLUESKY_PASSWORD)
        return Network("bluesky", "Bluesky", fake, {"handle": "brand.bsky.social", "secret": BLUESKY_PASSWORD},
                       "BLUESKY_API_BASE_URL", "BLUESKY_TIMEOUT_SECONDS", "/xrpc/com.atproto.repo.createRecord",
                       {"BLUESKY_API_BASE_URL": fake.url})
    if kind == "reddit":
        fake = FakeReddit().start()
        fake.add_app(*REDDIT_APP)
        fake.add_user("brand", REDDIT_PASSWORD)
        return Network("reddit", "Reddit", fake,
                       {"handle": "brand", "secret": REDDIT_PASSWORD, "client_id": REDDIT_APP[0],
                        "client_secret": REDDIT_APP[1], "community": "crunchwave"},
                       "REDDIT_API_BASE_URL", "REDDIT_TIMEOUT_SECONDS", "/api/submit",
                       {"REDDIT_API_BASE_URL": fake.url})
    raise ValueError(kind)
