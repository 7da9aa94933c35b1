"""What can go wrong talking to a network, in words a person can act on. Listening's
adapters raise these while fetching (the polling service records them on the source) and
the networks' publish calls raise them (approvals records them on the post)."""

from datetime import datetime


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


class PublishOutcomeUnknown(TransientError):
    """X may have created the post although we got no id back (a timeout after sending, a
    5xx, a dropped connection, an unreadable answer). Look at the account before posting
    again: blindly retrying can publish twice."""
