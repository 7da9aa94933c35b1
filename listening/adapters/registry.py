"""Which adapter fetches which kind of source. Imported lazily so that a missing
optional client library breaks only its own kind of source."""

from importlib import import_module

from ..models import Source
from . import FetchResult, PermanentError

MODULES = {
    Source.Kind.X_SEARCH: "listening.adapters.x",
    Source.Kind.X_MENTIONS: "listening.adapters.x",
    Source.Kind.MASTODON_TAG: "listening.adapters.mastodon",
    Source.Kind.MASTODON_MENTIONS: "listening.adapters.mastodon",
    Source.Kind.MASTODON_SEARCH: "listening.adapters.mastodon",
    Source.Kind.BLUESKY_SEARCH: "listening.adapters.bluesky",
    Source.Kind.BLUESKY_MENTIONS: "listening.adapters.bluesky",
    Source.Kind.RSS: "listening.adapters.rss",
    Source.Kind.DEMO: "listening.adapters.demo",
}


def pages_itself(source: Source) -> bool:
    """Whether the source's adapter walks its own pages within one fetch, up to a cap per
    poll (X_MAX_PAGES_PER_POLL, MASTODON_/BLUESKY_MAX_PAGES_PER_POLL: metered or rate-
    limited reads spread over polls): its `more` means "next poll", not "fetch again now"."""
    module = MODULES.get(source.kind)
    return bool(module) and getattr(import_module(module), "PAGES_PER_FETCH", False)


def fetch(source: Source) -> FetchResult:
    module = MODULES.get(source.kind)
    if module is None:
        raise PermanentError(f"{source.get_kind_display()} sources are not polled; they receive pushes.")
    return import_module(module).fetch(source)


def source_clean(*, kind: str, query: str, instance_url: str, login: str, secret: str) -> tuple[str, str, str, str]:
    """(query, instance_url, login, secret) as a new source of `kind` keeps them, checked by
    its adapter when the adapter takes a server or credentials (`source_clean`); the other
    kinds keep none. PermanentError says what is wrong."""
    module = MODULES.get(kind)
    adapter = import_module(module) if module else None
    if adapter is None or not hasattr(adapter, "source_clean"):
        return query, "", "", ""
    return adapter.source_clean(kind=kind, query=query, instance_url=instance_url, login=login, secret=secret)
