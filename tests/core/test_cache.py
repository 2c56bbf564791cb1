"""The shared cache (crm/cache.py): Redis when it answers, an empty cache when it does not."""

import os

import pytest

from core.cache import TolerantRedisCache

DOWN = "redis://127.0.0.1:1/1"  # nothing listens on port 1
QUICK = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}


def test_a_redis_that_is_down_reads_as_an_empty_cache(caplog):
    cache = TolerantRedisCache(DOWN, {"OPTIONS": QUICK})
    assert cache.get("figures") is None
    assert cache.get("history", []) == []  # what DRF's throttles read
    cache.set("figures", 1)
    assert cache.add("figures", 1) is False
    assert cache.get_many(["figures"]) == {}
    assert cache.has_key("figures") is False
    assert cache.get_or_set("figures", lambda: 5) == 5
    cache.delete("figures")
    with pytest.raises(ValueError, match="cache unavailable"):
        cache.incr("figures")
    assert "Cache unavailable (ConnectionError during get)" in caplog.text


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL")
def test_the_shared_cache_lives_in_redis_database_1_beside_the_broker():
    from crm import settings as crm_settings

    assert crm_settings.CACHE_URL.endswith("/1")
    cache = TolerantRedisCache(crm_settings.CACHE_URL, {"KEY_PREFIX": "crm-cache-test"})
    cache.delete("figures")
    assert cache.add("figures", {"overdue": 2}, 30) is True
    assert cache.add("figures", {"overdue": 3}, 30) is False
    assert cache.get("figures") == {"overdue": 2}
    cache.set("count", 1, 30)
    assert cache.incr("count") == 2
    cache.delete_many(["figures", "count"])
    assert cache.get("figures") is None


def test_pages_and_the_api_work_while_the_cache_is_down(settings, login, supervisor, manager, caplog):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    down = {"BACKEND": "core.cache.TolerantRedisCache", "LOCATION": DOWN, "OPTIONS": QUICK}
    settings.CACHES = {"default": down}
    client = login(supervisor)
    assert client.get("/dashboard/").status_code == 200
    # The API's throttles count in the cache: unreadable counters let the request through.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")
    assert api.get("/api/v1/customers/").status_code == 200
    assert "Cache unavailable" in caplog.text


@pytest.mark.django_db
def test_postgresql_sessions_run_without_jit():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
