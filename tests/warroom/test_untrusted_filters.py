"""The builtin filters for outside text: a link only becomes an href when it is http(s)."""

import pytest
from django.template import engines


def render(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>",
                                 "vbscript:msgbox", "//evil.example/x", "http://[::1", ""])
def test_a_link_that_is_not_http_is_no_href(url):
    assert render("{{ u|web_url }}", u=url) == ""
    assert render('{% if u|web_url %}<a href="{{ u|web_url }}">open</a>{% endif %}', u=url) == ""


def test_an_http_link_is_kept_escaped_and_without_bidi_controls():
    shown = render('<a href="{{ u|web_url }}">', u='https://example.com/a?b=1&c="x"\u202e')
    assert shown == '<a href="https://example.com/a?b=1&amp;c=&quot;x&quot;">'
    assert render("{{ u|web_url }}", u="HTTP://example.com/") == "HTTP://example.com/"
