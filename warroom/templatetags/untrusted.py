"""Filters for text that came from outside (a builtin of the template engine, so every
template and live partial has them): `{{ mention.author_name|bdi }}` shows it escaped,
without bidi controls, inside its own <bdi> so its direction cannot reorder what is around
it; `|no_bidi_controls` is the same text without the wrapper, for attributes and for
elements that carry dir="auto" themselves (an <option>, a <p dir="auto">)."""

from django import template
from django.utils.html import format_html

from warroom.text import without_bidi_controls

register = template.Library()


@register.filter(is_safe=True)
def no_bidi_controls(value) -> str:
    if value is None:
        return ""
    return without_bidi_controls(str(value))


@register.filter
def bdi(value) -> str:
    text = no_bidi_controls(value)
    return format_html("<bdi>{}</bdi>", text) if text else ""


@register.filter(is_safe=True)
def web_url(value) -> str:
    """An outside link for an href: the URL without bidi controls when it is http(s), else ""
    (a `javascript:` or `data:` link from a feed or a webhook must never become clickable)."""
    from urllib.parse import urlsplit

    url = no_bidi_controls(value).strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in {"http", "https"} else ""
