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
    Source.Kind.REDDIT_SEARCH: "listening.adapters.reddit",
    Source.Kind.REDDIT_COMMENTS: "listening.adapters.reddit",
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


def source_clean(*, kind: str, query: str, instance_url: str, login: str, secret: str,
                 **extra: str) -> tuple[str, str, str, str, dict]:
    """(query, instance_url, login, secret, extra) as a new source of `kind` keeps them,
    checked by its adapter when the adapter takes a server or credentials (`source_clean`);
    the other kinds keep none. `extra` holds the fields only some networks have (Reddit's
    client_id, client_secret, community): an adapter that names them in SOURCE_FIELDS is
    given them and returns them cleaned; the rest keep them empty. PermanentError says
    what is wrong."""
    module = MODULES.get(kind)
    adapter = import_module(module) if module else None
    if adapter is None or not hasattr(adapter, "source_clean"):
        return query, "", "", "", {}
    fields = getattr(adapter, "SOURCE_FIELDS", ())
    cleaned = adapter.source_clean(kind=kind, query=query, instance_url=instance_url, login=login, secret=secret,
                                   **{name: extra.get(name, "") for name in fields})
    return (*cleaned, {}) if len(cleaned) == 4 else cleaned
