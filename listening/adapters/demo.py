"""Demo replay: a Super Bowl night (listening/demo/superbowl.jsonl) played back at a chosen
speed, so a room with no credentials still hears a living feed.

`source.query` holds the options, e.g. ``speed=10`` or ``speed=10 pause=60`` (a bare ``10``
or ``10x`` also works; empty means the defaults):

    speed  how many seconds of the night pass per real second (default 10: the night's
           4 hours play in 24 minutes); 0.1 to 1000
    pause  real seconds between the end of the night and the start of the next replay
           (default 60); 0 to 86400

The cursor is ``{"started_at": <epoch seconds when line offset 0 was due>, "position":
<index of the next line to replay>, "loop": <replays finished>, "speed": <speed the cursor
was built with>}``. Each fetch returns the lines from `position` on whose
``started_at + offset_s / speed`` has passed, at most BATCH of them (``more=True`` when more
are already due). Once the last line is out, the cursor moves to the next loop, due
`pause` seconds after that line; later loops suffix every id with ``~<loop>`` so the
room stores them as new mentions. `posted_at` is the time each line became due.

A room that was switched off (the next line overdue by more than MAX_LAG seconds) resumes
where it stopped instead of dumping the backlog; a change of speed keeps the replay at
the same moment of the night. The file is read once per process; a malformed line is
skipped with a note when the replay reaches it. Not a metered API: `reads` stays 0.

The data is deliberately rough (a NUL, zero-width and bidi characters, markup, a 12,000
character post): ingest is expected to bound and clean it, not this adapter.
"""

import functools
import json
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import FetchedMention, FetchResult, PermanentError

DATA_FILE = Path(__file__).resolve().parent.parent / "demo" / "superbowl.jsonl"
DEFAULT_SPEED = 10.0
DEFAULT_PAUSE = 60.0
SPEED_RANGE = (0.1, 1000.0)
PAUSE_RANGE = (0.0, 86400.0)
BATCH = 500
MAX_LAG = 300.0  # real seconds a due line may wait before the replay re-anchors on now
MAX_ID = 100  # leaves room for the ~<loop> suffix in Mention.external_id (128)

now = time.time  # tests replace this to drive the clock


@dataclass(frozen=True)
class Line:
    offset_s: float
    id: str
    handle: str
    name: str
    followers: int
    text: str
    lang: str
    reply_to: str
    conversation: str


@dataclass(frozen=True)
class Skipped:
    line_no: int
    reason: str


@dataclass(frozen=True)
class Replay:
    entries: tuple  # Line | Skipped, in file order (blank lines dropped)

    @property
    def lines(self) -> list[Line]:
        return [e for e in self.entries if isinstance(e, Line)]


def _parse(raw: bytes, line_no: int, seen: set) -> Line | Skipped:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return Skipped(line_no, f"not JSON ({str(exc)[:80]})")
    if not isinstance(obj, dict):
        return Skipped(line_no, "not a JSON object")
    offset = obj.get("offset_s")
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset) or offset < 0:
        return Skipped(line_no, "offset_s is not a non-negative number")
    ident = obj.get("id")
    if not isinstance(ident, str) or not ident or len(ident) > MAX_ID:
        return Skipped(line_no, "id is missing or too long")
    if ident in seen:
        return Skipped(line_no, f"duplicate id {ident[:40]}")
    text = obj.get("text")
    if not isinstance(text, str):
        return Skipped(line_no, "text is missing")
    followers = obj.get("followers", 0)
    if isinstance(followers, bool) or not isinstance(followers, int) or followers < 0:
        followers = 0
    fields = {}
    for key in ("handle", "name", "lang", "reply_to"):
        value = obj.get(key, "")
        fields[key] = value if isinstance(value, str) else ""
    seen.add(ident)
    return Line(offset_s=float(offset), id=ident, followers=followers, text=text, conversation="", **fields)


@functools.cache
def load(path: str) -> Replay:
    """Parse the data file once per process (per path)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PermanentError(f"demo data file is missing ({exc.strerror}): run scripts/make_demo_data.py") from exc
    seen: set[str] = set()
    entries = []
    # Split on \n only: U+2028 and friends inside a post are not line breaks.
    for line_no, raw in enumerate(data.split(b"\n"), 1):
        if raw.strip():
            entries.append(_parse(raw.rstrip(b"\r"), line_no, seen))
    parents = {e.id: e.reply_to for e in entries if isinstance(e, Line)}

    def root(line: Line) -> str:
        if not line.reply_to:
            return line.id
        current = line.reply_to
        for _ in range(1000):  # bounded: a cycle in bad data must not hang the worker
            parent = parents.get(current)
            if not parent:
                break
            current = parent
        return current

    entries = [e if isinstance(e, Skipped) else Line(**{**e.__dict__, "conversation": root(e)}) for e in entries]
    if not any(isinstance(e, Line) for e in entries):
        raise PermanentError(f"demo data file {Path(path).name} has no usable line")
    return Replay(tuple(entries))


def _number(key: str, value: str, bounds: tuple[float, float]) -> float:
    try:
        number = float(value.rstrip("xX×"))
    except ValueError:
        number = math.nan
    low, high = bounds
    if not math.isfinite(number) or not low <= number <= high:
        raise PermanentError(f"demo {key} must be a number from {low:g} to {high:g}, e.g. speed=10 (got {value[:40]!r})")
    return number


def options(query: str) -> tuple[float, float, list[str]]:
    """(speed, pause, notes) from the source's query, e.g. "speed=10 pause=60"."""
    speed, pause, notes = DEFAULT_SPEED, DEFAULT_PAUSE, []
    for token in re.split(r"[\s&,;]+", (query or "").strip()):
        if not token:
            continue
        key, sep, value = token.partition("=")
        if not sep:
            key, value = "speed", token
        key = key.strip().lower()
        if key == "speed":
            speed = _number("speed", value.strip(), SPEED_RANGE)
        elif key == "pause":
            pause = _number("pause", value.strip(), PAUSE_RANGE)
        else:
            notes.append(f"ignored unknown demo option {key[:40]!r} (known: speed, pause)")
    return speed, pause, notes


def _cursor(raw, at: float, speed: float, size: int, notes: list[str]) -> tuple[float, int, int, float]:
    """(started_at, position, loop, speed it was built with), or a fresh start."""
    if isinstance(raw, dict) and raw:
        try:
            started_at = float(raw["started_at"])
            position = int(raw["position"])
            loop = int(raw["loop"])
            built_speed = float(raw.get("speed", speed))
            if not (math.isfinite(started_at) and math.isfinite(built_speed) and built_speed > 0 and position >= 0 and loop >= 0):
                raise ValueError
            return started_at, min(position, size), loop, built_speed
        except (KeyError, TypeError, ValueError, OverflowError):
            notes.append("demo cursor was unreadable; starting the replay from the beginning")
    return at, 0, 0, speed


def _suffix(ident: str, loop: int) -> str:
    return f"{ident}~{loop}" if ident and loop else ident


def _mention(line: Line, loop: int, due: float) -> FetchedMention:
    return FetchedMention(
        external_id=_suffix(line.id, loop),
        text=line.text,
        posted_at=datetime.fromtimestamp(due, tz=timezone.utc),
        author_handle=line.handle,
        author_name=line.name,
        author_followers=line.followers,
        url="",  # the handles are invented; a link could land on a real stranger's account
        lang=line.lang,
        in_reply_to=_suffix(line.reply_to, loop),
        conversation_id=_suffix(line.conversation, loop),
    )


def fetch(source) -> FetchResult:
    speed, pause, notes = options(source.query)
    entries = load(str(DATA_FILE)).entries
    at = now()
    started_at, position, loop, built_speed = _cursor(source.cursor, at, speed, len(entries), notes)

    if built_speed != speed and at > started_at:
        # Same moment of the night, new pace.
        started_at = at - (at - started_at) * built_speed / speed
    if position >= len(entries):
        # A cursor past the end (say, the file got shorter): the next loop starts now.
        started_at, position, loop = at, 0, loop + 1
    upcoming = next((e for e in entries[position:] if isinstance(e, Line)), None)
    if upcoming is not None:
        lag = at - (started_at + upcoming.offset_s / speed)
        if lag > MAX_LAG:
            started_at = at - upcoming.offset_s / speed
            notes.append(f"demo replay was idle for {lag / 60:.0f} min; resuming where it stopped")

    mentions: list[FetchedMention] = []
    more = False
    while position < len(entries):
        entry = entries[position]
        if isinstance(entry, Skipped):
            notes.append(f"skipped line {entry.line_no} of {DATA_FILE.name}: {entry.reason}")
            position += 1
            continue
        due = started_at + entry.offset_s / speed
        if due > at + 1e-6:  # a microsecond of slack for float rounding after re-anchoring
            break
        if len(mentions) >= BATCH:
            more = True
            break
        mentions.append(_mention(entry, loop, due))
        position += 1

    if position >= len(entries):
        last = max((e.offset_s for e in entries if isinstance(e, Line)), default=0.0)
        started_at, position, loop = started_at + last / speed + pause, 0, loop + 1
        more = more or started_at <= at

    cursor = {"started_at": started_at, "position": position, "loop": loop, "speed": speed}
    return FetchResult(mentions=mentions, cursor=cursor, reads=0, more=more, notes=notes)
