"""Per-minute mention rollups, kept in the same transaction as the mentions they count.

Listening's ingest calls `mention_minutes_add` with the rows it just inserted (after its
ON CONFLICT DO NOTHING, so a re-delivered mention is never counted twice). Rows are keyed
by (minute, source): two sources ingesting at once never wait on each other's rows, and a
source's own ingests are already serialized by its row lock."""

from collections import Counter
from datetime import datetime

from django.db import connection, transaction

LABELS = ("positive", "neutral", "negative")


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def mention_minutes_add(*, source_id: int, rows: list[dict]) -> None:
    """Add newly stored mentions (dicts with posted_at and sentiment_label) to the rollup."""
    if not rows:
        return
    counts: Counter = Counter()
    for row in rows:
        label = row["sentiment_label"] if row["sentiment_label"] in LABELS else "neutral"
        counts[(_minute(row["posted_at"]), label)] += 1
    minutes: dict[datetime, list[int]] = {}
    for (minute, label), n in counts.items():
        minutes.setdefault(minute, [0, 0, 0])[LABELS.index(label)] += n
    values = []
    params: list = []
    for minute, (pos, neu, neg) in sorted(minutes.items()):
        values.append("(%s, %s, %s, %s, %s, %s)")
        params += [minute, source_id, pos + neu + neg, pos, neu, neg]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wall_mentionminute (minute, source_id, total, positive, neutral, negative) VALUES "
            + ", ".join(values)
            + " ON CONFLICT (minute, source_id) DO UPDATE SET total = wall_mentionminute.total + EXCLUDED.total,"
            " positive = wall_mentionminute.positive + EXCLUDED.positive,"
            " neutral = wall_mentionminute.neutral + EXCLUDED.neutral,"
            " negative = wall_mentionminute.negative + EXCLUDED.negative",
            params,
        )


@transaction.atomic
def mention_minutes_rebuild() -> int:
    """Recount the whole rollup from the mention table (after a bulk load, or to repair it).
    Takes a lock on the rollup so ingests wait rather than add to a half-built table."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE wall_mentionminute IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM wall_mentionminute")
        cursor.execute(
            "INSERT INTO wall_mentionminute (minute, source_id, total, positive, neutral, negative) "
            "SELECT date_trunc('minute', posted_at), source_id, count(*),"
            " count(*) FILTER (WHERE sentiment_label = 'positive'),"
            " count(*) FILTER (WHERE sentiment_label NOT IN ('positive', 'negative')),"
            " count(*) FILTER (WHERE sentiment_label = 'negative') "
            "FROM listening_mention GROUP BY 1, 2"
        )
        return cursor.rowcount
