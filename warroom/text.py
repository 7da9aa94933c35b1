"""Text from outside the room (mentions, author names, feed titles, URLs) made safe to
show: the Unicode bidi embedding, override and isolate controls (U+202A-U+202E,
U+2066-U+2069) are stripped, not shown. An unmatched U+202E turns the rest of a line
backwards ("‮moc.elgoog" reads as a trusted address), and nothing a mention legitimately
says needs them: right-to-left text still reads right to left, because every place that
shows outside text isolates it (`<bdi>` / `dir="auto"`). Stripped once on ingest
(listening's `clean`) and again when shown (the `bdi` and `no_bidi_controls` filters), so
text stored before ingest stripped it is safe too."""

import re

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_bidi_controls(value: str) -> str:
    return BIDI_CONTROLS.sub("", value)
