"""/healthz names what is down: the database, Redis, or the Celery workers."""

import json

import pytest

from tests.conftest import celery_worker, manage

HEALTH = "from django.test import Client; r = Client(HTTP_HOST='127.0.0.1').get('/healthz'); print(r.status_code, r.content.decode())"


def health(**env) -> tuple[int, dict]:
    """Ask /healthz in a separate process, so the environment (a dead database) is its own."""
    out = manage("shell", "-c", HEALTH, **env).stdout.strip().splitlines()[-1]
    status, body = out.split(" ", 1)
    return int(status), json.loads(body)


@pytest.mark.django_db(transaction=True)
def test_all_up_with_a_real_worker(artifacts):
    with celery_worker(artifacts, name="health"):
        status, body = health()
    assert status == 200
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"]["workers"]["ok"] and body["checks"]["workers"]["answered"] >= 1


@pytest.mark.django_db(transaction=True)
def test_no_worker_is_named(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["workers"]
    assert "no Celery worker" in response.json()["checks"]["workers"]["error"]


def test_redis_down_is_named(db):
    status, body = health(REDIS_URL="redis://127.0.0.1:1/0")
    assert status == 503
    assert body["down"] == ["redis", "workers"]


def test_database_down_is_named(db):
    status, body = health(DATABASE_URL="postgres://warroom@127.0.0.1:1/warroom")
    assert status == 503
    assert "database" in body["down"] and body["checks"]["database"]["error"] == "OperationalError"
