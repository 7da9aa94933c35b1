"""/healthz names what is down (the database, Redis, or the Celery workers) to a lead, an
admin or a monitor holding HEALTHZ_TOKEN; anyone else learns only "ok" or "down"."""

import json

import pytest
from django.test import Client

from tests.conftest import celery_worker, manage
from warroom import roles

TOKEN = "health-monitor-token-for-tests"
ASK = ("from django.test import Client; r = Client(HTTP_HOST='127.0.0.1'{auth}).get('/healthz'); "
       "print(r.status_code, r.content.decode())")


def health(*, token: str | None = TOKEN, **env) -> tuple[int, dict]:
    """Ask /healthz in a separate process, so the environment (a dead database) is its own;
    with the monitor's bearer token unless token=None."""
    auth = f", HTTP_AUTHORIZATION='Bearer {token}'" if token else ""
    out = manage("shell", "-c", ASK.format(auth=auth), HEALTHZ_TOKEN=TOKEN, **env).stdout.strip().splitlines()[-1]
    status, body = out.split(" ", 1)
    return int(status), json.loads(body)


@pytest.mark.django_db(transaction=True)
def test_all_up_with_a_real_worker(artifacts):
    with celery_worker(artifacts, name="health"):
        status, body = health()
        anonymous = health(token=None)
    assert status == 200
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"]["workers"]["ok"] and body["checks"]["workers"]["answered"] >= 1
    assert anonymous == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
def test_no_worker_is_named_to_the_lead_and_admin(make_user):
    for role in (roles.LEAD, roles.ADMIN):
        client = Client()
        client.force_login(make_user(role))
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["down"] == ["workers"]
        assert "no Celery worker" in response.json()["checks"]["workers"]["error"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", [None, roles.COMMUNITY_MANAGER, roles.LEGAL, roles.PRODUCER, "anonymous"])
def test_anyone_else_learns_only_that_the_room_is_down(make_user, role):
    client = Client()
    if role != "anonymous":
        client.force_login(make_user(role))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "down"}


@pytest.mark.django_db(transaction=True)
def test_the_token_shows_the_detail_and_a_wrong_or_unset_token_does_not(settings):
    settings.HEALTHZ_TOKEN = TOKEN
    assert Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get("/healthz").json()["down"] == ["workers"]
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer ", "Bearer é"):
        assert Client(HTTP_AUTHORIZATION=header).get("/healthz").json() == {"status": "down"}, header
    settings.HEALTHZ_TOKEN = ""
    assert Client(HTTP_AUTHORIZATION="Bearer ").get("/healthz").json() == {"status": "down"}


def test_redis_down_is_named(db):
    status, body = health(REDIS_URL="redis://127.0.0.1:1/0")
    assert status == 503
    assert body["down"] == ["redis", "workers"]


def test_database_down_is_named_to_the_token_and_only_down_to_anyone(db):
    status, body = health(DATABASE_URL="postgres://warroom@127.0.0.1:1/warroom")
    assert status == 503
    assert "database" in body["down"] and body["checks"]["database"]["error"] == "OperationalError"
    assert health(token=None, DATABASE_URL="postgres://warroom@127.0.0.1:1/warroom") == (503, {"status": "down"})
