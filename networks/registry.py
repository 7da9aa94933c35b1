"""Which module speaks for which network: the account's (or mention's) network kind to its
module in networks/ (see networks/base.py for what a module provides). Imported lazily, so
a client library that is missing or broken breaks only its own network."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from .errors import PermanentError

MODULES = {
    "x": "networks.x",
    "mastodon": "networks.mastodon",
    "bluesky": "networks.bluesky",
    "reddit": "networks.reddit",
}
LABELS = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "reddit": "Reddit"}
# The networks whose module reads engagement (`engagement`). Reposts are the modules'
# with `repost` (not Reddit's: a repost follow-up there is refused with a message).
ENGAGEMENT = ("x", "mastodon", "bluesky", "reddit")


def choices() -> list[tuple[str, str]]:
    """(kind, label) of every network an account can be on."""
    return [(kind, LABELS[kind]) for kind in MODULES]


def module(network: str) -> ModuleType:
    """The module that publishes on `network`; PermanentError naming it when there is none."""
    name = MODULES.get(network)
    if name is None:
        raise PermanentError(f"The room cannot publish on {network[:40]!r}: it knows {', '.join(LABELS.values())}.")
    return import_module(name)
