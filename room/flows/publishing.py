"""A post's outcome is known: legal said No, publishing failed for good, or it went out
(or the lead found it did). A reply to a customer tells its case, in the same
transaction (approvals.post_outcome)."""

from approvals.models import Post
from triage import services as triage


def post_outcome(*, post: Post) -> None:
    """A reply's case learns how it ended (triage.case_reply_outcome); other posts end here."""
    if post.in_reply_to:
        triage.case_reply_outcome(post=post)  # a published reply is the case's first response
