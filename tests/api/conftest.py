"""API fixtures: token clients, the archive fixtures of tests/customers, a clean throttle cache."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.scoping import subtree_unit_ids
from tests.customers import conftest as archive_fixtures

grid = archive_fixtures.grid
make_customer = archive_fixtures.make_customer
mine = archive_fixtures.mine
colleagues = archive_fixtures.colleagues
foreign = archive_fixtures.foreign

CUSTOMERS = "/api/v1/customers/"
SYNC = "/api/v1/customers/sync/"
BULK = "/api/v1/customers/bulk/"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent transactions (PostgreSQL)"
)


def detail(number: str) -> str:
    return f"{CUSTOMERS}{number}/"


@pytest.fixture(autouse=True)
def empty_throttle_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(db):
    """api(user) -> an APIClient authenticated with the user's token; api() -> anonymous."""

    def _client(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _created = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            if user.sees_subtree and user.org_unit_id:
                # As after a first request: the scope's unit ids are in the shared cache
                # (accounts.scoping), so query counts are those of the steady state.
                subtree_unit_ids(type(user).objects.get(pk=user.pk))
        return client

    return _client


@pytest.fixture
def settled():
    """settled() waits until every transaction started so far has ended (PostgreSQL).

    The sync feed holds back rows while an older transaction anywhere in the
    cluster is open, e.g. a test of another run on the same server.
    """

    def _wait(timeout: float = 60) -> None:
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            (mark,) = cursor.fetchone()
            deadline = time.monotonic() + timeout
            while True:
                cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                if cursor.fetchone()[0] > mark:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError("an older transaction stayed open")
                time.sleep(0.05)

    return _wait


def walk(client: APIClient, cursor: str = "", limit: int = 1000) -> tuple[list[dict], str]:
    """Every page of the sync feed from `cursor`: (rows, the last `next`)."""
    rows: list[dict] = []
    while True:
        response = client.get(SYNC, {"cursor": cursor, "limit": limit})
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        cursor = body["next"]
        if not body["has_more"]:
            return rows, cursor
