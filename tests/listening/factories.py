"""Small builders for listening tests (real rows in PostgreSQL, nothing mocked)."""

import itertools
from datetime import datetime

from django.utils import timezone

from listening.adapters import FetchedMention
from listening.models import Source

_ids = itertools.count(1)


def source(kind: str = Source.Kind.WEBHOOK, **fields) -> Source:
    fields.setdefault("name", f"source {next(_ids)}")
    fields.setdefault("query", "")
    return Source.objects.create(kind=kind, **fields)


def fetched(text: str = "Loving the Crunchwave ad", *, external_id: str | None = None, posted_at: datetime | None = None,
            **fields) -> FetchedMention:
    return FetchedMention(
        external_id=external_id or f"m{next(_ids)}",
        text=text,
        posted_at=posted_at or timezone.now(),
        author_handle=fields.pop("author_handle", "fan"),
        author_name=fields.pop("author_name", "A Fan"),
        author_followers=fields.pop("author_followers", 120),
        **fields,
    )
