"""What each network refuses, as data and one counting function per network: the
composer's preview and the server-side validation before legal sees a post both read
this module, so a post legal approves is one the network will take.

- X: the weighted count of twitter-text v3 (NFC; code points in Latin and general
  punctuation ranges weigh 1, everything else, CJK included, 2; an emoji sequence 2; every
  URL 23, what t.co makes of it), at most 280.
- Mastodon: 500 grapheme clusters, every URL counted as 23 and a mention `@user@domain`
  as `@user` (Mastodon's StatusLengthValidator).
- Bluesky: 300 grapheme clusters (and 3,000 bytes of UTF-8), URLs as written.
- Reddit: the first line is the title (1 to 300 characters), the rest the body
  (at most 40,000).

Media limits are per network (`MediaLimits`): the content types it takes and their sizes,
the pixel count of an image, a video's length, how many items, and the alt text's length.
Each network's client module (networks/x.py, and the Mastodon and Bluesky modules) uploads
what passed them; Reddit takes text only."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import regex

MB = 1024 * 1024

URL = regex.compile(
    r"(?<![\w@/.-])(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+"
    r"|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|io|co|dev|app|me|info|biz|us|uk|de|fr|es|it|nl|ly|gl"
    r"|gg|tv|news|xyz|ai|ca|au|jp|br|eu)(?:/[^\s<>\"']*)?)(?<![.,;:!?)\]])",
    regex.IGNORECASE,
)
MASTODON_MENTION = regex.compile(r"(?<![\w/])@(\w+(?:[.-]\w+)*)@[\w.-]+\w", regex.IGNORECASE)
GRAPHEME = regex.compile(r"\X")
EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")

X_TRANSFORMED_URL = 23
X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


@dataclass(frozen=True)
class MediaInfo:
    """What a file is, read from its bytes (approvals/media.py), never from its name."""

    content_type: str  # image/png, image/jpeg, image/gif, image/webp, video/mp4
    size: int
    width: int = 0
    height: int = 0
    duration: float = 0.0  # seconds, videos
    frames: int = 1

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: dict[str, int]  # content type -> largest file taken; a type not here is refused
    max_pixels: int
    max_video_seconds: float
    max_items: int
    max_alt_text: int
    video_alone: bool = True  # a video (or an animated GIF) cannot share a post with other media


@dataclass(frozen=True)
class Count:
    used: int
    limit: int
    unit: str
    problems: tuple[str, ...] = ()
    parts: tuple[tuple[str, int, int], ...] = ()  # (name, used, limit): Reddit's title and body

    @property
    def over(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True)
class Network:
    key: str
    name: str
    count: Callable[[str], Count] = field(repr=False)
    media: MediaLimits = field(repr=False)
    alt_text_unit: str = "characters"

    def text_problems(self, text: str) -> list[str]:
        return list(self.count(text).problems)

    def media_problems(self, items: list[tuple[MediaInfo, str]]) -> list[str]:
        """Each (file, alt text) against this network's limits, in words naming the file's place."""
        limits, problems = self.media, []
        if items and limits.max_items == 0:
            return [f"{self.name} takes text only from the room: remove the media from the {self.name} version."]
        if len(items) > limits.max_items:
            problems.append(f"{self.name} takes at most {limits.max_items} media items per post; this one has {len(items)}.")
        alone = [info for info, _ in items if info.is_video or (info.content_type == "image/gif" and info.frames > 1)]
        if limits.video_alone and alone and len(items) > 1:
            problems.append(f"{self.name} takes a video or an animated GIF only on its own, without other media.")
        for n, (info, alt) in enumerate(items, 1):
            label = f"Media {n} ({_kind(info)})"
            largest = limits.max_bytes.get(info.content_type)
            if largest is None:
                problems.append(f"{label}: {self.name} does not take {info.content_type} files.")
                continue
            if info.size > largest:
                problems.append(f"{label} is {_size(info.size)}; {self.name} takes at most {_size(largest)} "
                                f"for {info.content_type}.")
            if not info.is_video and info.pixels > limits.max_pixels:
                problems.append(f"{label} is {info.width}×{info.height} = {info.pixels:,} pixels; {self.name} takes at "
                                f"most {limits.max_pixels:,}.")
            if info.is_video and info.duration > limits.max_video_seconds:
                problems.append(f"{label} runs {info.duration:.1f} s; {self.name} takes videos up to "
                                f"{limits.max_video_seconds:g} s.")
            if len(alt) > limits.max_alt_text:
                problems.append(f"{label}: the alt text is {len(alt)} characters; {self.name} takes at most "
                                f"{limits.max_alt_text}.")
        return problems


def _kind(info: MediaInfo) -> str:
    return info.content_type.split("/", 1)[1].upper()


def _size(size: int) -> str:
    if size % MB == 0:
        return f"{size // MB} MB"
    if size % 1_000_000 == 0:
        return f"{size:,} bytes"
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1024:.0f} KB"


def graphemes(text: str) -> int:
    return len(GRAPHEME.findall(text))


# --- the counts ------------------------------------------------------------------------

def _empty(text: str) -> tuple[str, ...]:
    return ("The text is empty.",) if not text.strip() else ()


def _x_weight(cluster: str) -> int:
    if EMOJI.search(cluster):
        return 2
    return sum(1 if any(lo <= ord(ch) <= hi for lo, hi in X_LIGHT_RANGES) else 2 for ch in cluster)


def count_x(text: str) -> Count:
    text = unicodedata.normalize("NFC", text)
    used, last = 0, 0
    for match in URL.finditer(text):
        used += sum(_x_weight(c) for c in GRAPHEME.findall(text[last:match.start()])) + X_TRANSFORMED_URL
        last = match.end()
    used += sum(_x_weight(c) for c in GRAPHEME.findall(text[last:]))
    problems = _empty(text)
    if used > 280:
        problems += (f"X counts {used} characters (URLs as 23, CJK and emoji as 2); it takes at most 280.",)
    return Count(used, 280, "weighted characters", problems)


def count_mastodon(text: str, limit: int = 500) -> Count:
    countable = URL.sub("x" * 23, text)
    countable = MASTODON_MENTION.sub(lambda m: "@" + m.group(1), countable)
    used = graphemes(countable)
    problems = _empty(text)
    if used > limit:
        problems += (f"Mastodon counts {used} characters (URLs as 23); it takes at most {limit}.",)
    return Count(used, limit, "characters", problems)


def count_bluesky(text: str) -> Count:
    used = graphemes(text)
    problems = _empty(text)
    if used > 300:
        problems += (f"Bluesky counts {used} graphemes; it takes at most 300.",)
    if len(text.encode("utf-8")) > 3000:
        problems += (f"Bluesky takes at most 3,000 bytes of text; this is {len(text.encode('utf-8')):,}.",)
    return Count(used, 300, "graphemes", problems)


def reddit_title_body(text: str) -> tuple[str, str]:
    title, _, body = text.strip().partition("\n")
    return title.strip(), body.strip()


def count_reddit(text: str) -> Count:
    title, body = reddit_title_body(text)
    problems: tuple[str, ...] = ()
    if not title:
        problems += ("Reddit needs a title: the first line of the text.",)
    if len(title) > 300:
        problems += (f"The Reddit title (the first line) is {len(title)} characters; Reddit takes at most 300.",)
    if len(body) > 40000:
        problems += (f"The Reddit body is {len(body):,} characters; Reddit takes at most 40,000.",)
    return Count(len(title) + len(body), 300 + 40000, "characters", problems,
                 parts=(("title", len(title), 300), ("body", len(body), 40000)))


IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

NETWORKS: dict[str, Network] = {
    "x": Network("x", "X", count_x, MediaLimits(
        max_bytes={"image/png": 5 * MB, "image/jpeg": 5 * MB, "image/webp": 5 * MB, "image/gif": 15 * MB,
                   "video/mp4": 512 * MB},
        max_pixels=8192 * 8192, max_video_seconds=140, max_items=4, max_alt_text=1000)),
    "mastodon": Network("mastodon", "Mastodon", count_mastodon, MediaLimits(
        max_bytes={**{t: 16 * MB for t in IMAGE_TYPES}, "video/mp4": 99 * MB},
        max_pixels=8_294_400, max_video_seconds=3600, max_items=4, max_alt_text=1500)),
    "bluesky": Network("bluesky", "Bluesky", count_bluesky, MediaLimits(
        max_bytes={**{t: 1_000_000 for t in IMAGE_TYPES}, "video/mp4": 100 * MB},
        max_pixels=8192 * 8192, max_video_seconds=180, max_items=4, max_alt_text=2000), alt_text_unit="graphemes"),
    # Text only: networks/reddit.py posts self posts and comments (Reddit's media go through
    # its own upload lease, which the room does not speak yet).
    "reddit": Network("reddit", "Reddit", count_reddit, MediaLimits(
        max_bytes={}, max_pixels=10000 * 10000, max_video_seconds=900, max_items=0, max_alt_text=500)),
}


def network(platform: str) -> Network:
    """The limits of an account's platform; an unknown one is held to X's, the strictest text."""
    return NETWORKS.get(platform) or NETWORKS["x"]
