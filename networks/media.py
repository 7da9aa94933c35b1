"""A file on its way to a network: the bytes legal saw (checked against their SHA-256
before they get here), what they are, and their alt text.

Every network module uploads with one function of the same shape, called by approvals'
publish path before it creates the post:

    upload_media(files: list[MediaFile], *, sandbox: bool = False) -> list[str]   # the network's media ids

- networks/x.py: tweepy's chunked media upload (INIT / APPEND / FINALIZE, STATUS while X
  processes a video) and the alt text through media/metadata/create.
- networks/mastodon.py: Mastodon.py's media_post (POST /api/v2/media, with `description`).
- networks/bluesky.py: atproto's upload_blob, then the image/video embed with `alt`.
A failure raises networks/errors.py's errors; an upload never creates a post, so it is
never PublishOutcomeUnknown."""

from .base import MediaFile  # noqa: F401  (the one shape every module uploads)
