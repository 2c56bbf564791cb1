import pytest
from django.db import OperationalError, connections
from kombu import Connection

from crm.celery import app as celery_app


@pytest.mark.django_db
def test_it_reports_a_reachable_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["database"] == "ok"
    assert body["status"] == "ok"
    assert body["broker"] in {"ok", "unavailable"}


@pytest.mark.django_db
def test_it_answers_503_when_the_database_is_down(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response.json()["status"] == "unavailable"


@pytest.mark.django_db
def test_an_unreachable_broker_is_reported_but_not_fatal(client, monkeypatch):
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    monkeypatch.setattr(
        celery_app,
        "connection_for_write",
        lambda *args, **kwargs: Connection("redis://127.0.0.1:1/0", connect_timeout=1),
    )

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "unavailable"


@pytest.mark.django_db
def test_it_is_never_cached(client):
    response = client.get("/healthz")

    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
