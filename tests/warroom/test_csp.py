"""Content-Security-Policy: on every response, strict enough that an injected script or
style cannot run, and our own templates need nothing it forbids (the browser tests fail on
any violation a page reports: see tests/e2e/conftest.py)."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from tests.warroom.test_views import POST_ONLY, room_url_names, url_of
from warroom import roles

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def assert_strict(response) -> None:
    policy = directives(response)
    for name, value in REQUIRED.items():
        assert policy[name] == value, (response.request["PATH_INFO"], name, policy.get(name))
    assert "unsafe" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_every_page_of_every_kind_carries_the_policy(make_user):
    lead = make_user(roles.LEAD, is_staff=True, is_superuser=True)
    client = Client()
    assert_strict(client.get("/login/"))
    assert_strict(client.get("/healthz"))
    assert_strict(client.get("/static/warroom/live.js"))
    assert_strict(client.get("/no/such/page/"))
    assert_strict(client.post("/hooks/not-a-token/", data=b"{}", content_type="application/json"))
    client.force_login(lead)
    for name in room_url_names():
        response = client.post(url_of(name), {"text": "csp check"}) if name in POST_ONLY else client.get(url_of(name))
        assert_strict(response)
    assert_strict(client.get("/admin/"))
    assert_strict(client.get("/admin/auth/user/"))


@pytest.mark.django_db
def test_sockets_may_go_only_to_this_host_with_the_pages_scheme(settings):
    settings.ALLOWED_HOSTS = ["room.example.com"]
    assert directives(Client().get("/login/", HTTP_HOST="room.example.com"))["connect-src"] == "'self' ws://room.example.com"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    secure = Client().get("/login/", HTTP_HOST="room.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert directives(secure)["connect-src"] == "'self' wss://room.example.com"


@pytest.mark.django_db
def test_htmx_runs_without_eval_or_inline_style():
    page = Client().get("/login/").content.decode()
    [config] = re.findall(r'<meta name="htmx-config" content=\'([^\']*)\'>', page)
    # attributesToSettle without "style": settling copies style attributes, which the policy refuses.
    assert json.loads(config) == {"allowEval": False, "allowScriptTags": False, "includeIndicatorStyles": False,
                                  "attributesToSettle": ["class", "width", "height"]}


def templates() -> list[Path]:
    return sorted(path for path in ROOT.rglob("*.html")
                  if not {".venv", "node_modules", "test-artifacts", ".run"} & set(path.relative_to(ROOT).parts))


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<[a-z][^>]*\sstyle\s*=|<style\b", re.I)
SCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def test_no_template_holds_inline_script_handlers_or_style():
    found = []
    for path in templates():
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE, SCRIPT_URL):
            found += [f"{path.relative_to(ROOT)}: {match.group(0)[:80]}" for match in pattern.finditer(text)]
    assert len(templates()) > 20
    assert found == []
