"""One module per outside API. Each exposes `fetch(source) -> FetchResult` and raises the
errors of networks/errors.py (imported here, so an adapter names them as its contract's);
the polling service records them on the source in words."""

from dataclasses import dataclass, field
from datetime import datetime

from networks.errors import AdapterError, PermanentError, RateLimited, TransientError
from warroom import netguard

__all__ = ["AdapterError", "FetchResult", "FetchedMention", "PermanentError", "RateLimited", "TransientError"]


@dataclass
class FetchedMention:
    """A mention as an adapter normalised it; ingest bounds and enriches it."""

    external_id: str
    text: str
    posted_at: datetime
    author_handle: str = ""
    author_name: str = ""
    author_followers: int = 0
    url: str = ""
    lang: str = ""  # the platform's own language tag, when it gives one
    in_reply_to: str = ""
    conversation_id: str = ""


@dataclass
class FetchResult:
    mentions: list[FetchedMention]
    cursor: dict  # the source's cursor once these mentions are stored
    reads: int = 0  # posts read from a metered API (X bills reads by the post)
    more: bool = False  # the adapter stopped early; poll again soon
    notes: list[str] = field(default_factory=list)
    rate_limited_until: datetime | None = None  # the API refused a later page: ask nothing before this


def server_guard(network_module, channel, what: str) -> None:
    """The SSRF guard on the server a person typed for a source (an instance, a PDS), when
    the network's module will connect there: PermanentError naming `what` it refused."""
    url = network_module.guarded_url(channel)
    if url:
        try:
            netguard.check_url(url)
        except netguard.NotPublic as error:
            raise PermanentError(f"The {what} {url[:100]} is refused: {error}") from error
