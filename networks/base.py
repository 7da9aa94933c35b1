"""The one publisher interface every network module implements (networks/x.py,
networks/mastodon.py, networks/bluesky.py, networks/reddit.py), and the small values it speaks in.

A network module is a plain module with these names (networks/registry.py finds it by
the account's network kind):

    NETWORK = "mastodon"                  # the kind stored on accounts and mentions
    LABEL = "Mastodon"                    # how a person names it
    LIMITS = Limits(...)                  # what the network refuses, as data

    def publish(channel, text, *, reply_to=None, media=()) -> Published
    def delete(channel, post_id) -> None
    def lookup(channel, post_id) -> Found | None     # needs-check: is it there?
    def post_url(channel, post_id) -> str            # where a person sees it
    def repost(channel, post_id) -> Published        # a retweet / reblog / repost of a post
    def engagement(channel, ids) -> {id: counts}      # what happened to posts that went out

`engagement` answers, for each id the network still shows, {"likes", "reposts",
"replies", "quotes", "impressions"} (ints; impressions None where the network does not
give them); an id it no longer shows (deleted, hidden) is left out. It batches as the
network allows and sends no more requests than that. `READS_BUDGETED` (default False)
says whether each post read counts against a paid monthly read cap (X's).

Each raises only networks/errors.py's errors: RateLimited (nothing was created; try after
reset_at), TransientError (nothing was created; try again later), PublishOutcomeUnknown
(the network may have created it: look before sending again), PermanentError (a person
must act). `publish` sends one create request and never retries on its own.

The caller (approvals) builds the Channel from the account; nothing outside a network's
module knows how that network authenticates, paginates or counts characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Channel:
    """One account on one network, as its module needs it to talk as that account.

    `instance_url` is the server the account lives on (a Mastodon instance, a Bluesky PDS;
    unused for X). `secret` is the account's credential (a Mastodon access token, a
    Bluesky app password); X reads its credentials from the environment. `sandbox` marks
    a drill's account: X then posts only with X_SANDBOX_USER_ACCESS_TOKEN. Reddit's script
    app adds its `client_id` and `client_secret` (`secret` is then the user's password) and
    `community`, the subreddit posts go to."""

    network: str
    handle: str = ""
    instance_url: str = ""
    secret: str = field(default="", repr=False)
    sandbox: bool = False
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    community: str = ""


@dataclass(frozen=True)
class MediaFile:
    """One image or video to attach: its bytes exactly as legal saw them."""

    data: bytes = field(repr=False)
    mime_type: str  # image/png, image/jpeg, image/gif, image/webp, video/mp4
    alt_text: str = ""
    filename: str = "media"
    sha256: str = ""  # of `data`, as approvals checked it against legal's Yes
    animated: bool = False  # a GIF with more than one frame

    @property
    def content_type(self) -> str:
        return self.mime_type

    @property
    def is_video(self) -> bool:
        return self.mime_type.startswith("video/")


@dataclass(frozen=True)
class Published:
    """What the network answered to a publish: its id for the post (stored as the post's
    platform_id, at most 128 characters) and where a person can see it."""

    id: str
    url: str = ""


@dataclass(frozen=True)
class Found:
    """A post `lookup` found on the network."""

    id: str
    text: str
    url: str = ""


@dataclass(frozen=True)
class Limits:
    """What a network refuses, as data its module declares (the composer's preview and
    validation before legal read it)."""

    max_chars: int
    url_chars: int | None = None  # a URL counts as this many characters (None: as written)
    counts: str = "code points"  # or "graphemes" (Bluesky), "weighted" (X)
    max_media: int = 4
    media_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4")
    max_image_bytes: int = 5 * 1024 * 1024
    max_video_bytes: int = 40 * 1024 * 1024
