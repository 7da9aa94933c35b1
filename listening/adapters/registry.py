"""Which adapter fetches which kind of source. Imported lazily so that a missing
optional client library breaks only its own kind of source."""

from importlib import import_module

from ..models import Source
from . import FetchResult, PermanentError

MODULES = {
    Source.Kind.X_SEARCH: "listening.adapters.x",
    Source.Kind.X_MENTIONS: "listening.adapters.x",
    Source.Kind.RSS: "listening.adapters.rss",
    Source.Kind.DEMO: "listening.adapters.demo",
}


def fetch(source: Source) -> FetchResult:
    module = MODULES.get(source.kind)
    if module is None:
        raise PermanentError(f"{source.get_kind_display()} sources are not polled; they receive pushes.")
    return import_module(module).fetch(source)
