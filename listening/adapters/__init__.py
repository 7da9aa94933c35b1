"""One module per outside API. Each exposes `fetch(source) -> FetchResult` and raises the
errors below; the polling service records them on the source in words."""

from dataclasses import dataclass, field
from datetime import datetime


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


class AdapterError(Exception):
    """Base: the message is shown to the lead on the source's health line."""


class RateLimited(AdapterError):
    def __init__(self, message: str, reset_at: datetime):
        super().__init__(message)
        self.reset_at = reset_at


class TransientError(AdapterError):
    """5xx, timeouts, connection errors, malformed responses: try again with back-off."""


class PermanentError(AdapterError):
    """Bad credentials, a query the API refuses, a missing account: the lead must act."""
