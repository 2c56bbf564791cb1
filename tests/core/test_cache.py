"""The shared cache (core/cache.py): Redis when it answers, an empty cache when it does not;
on the database its URL names."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.cache import TolerantRedisCache

BASE_DIR = Path(__file__).resolve().parents[2]

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


def default_cache(tmp_path, **env: str) -> dict:
    """CACHES["default"] as crm/settings.py builds it in a process whose environment is `env`."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL") and not name.startswith("DJANGO_")
    }
    environ.update({"CRM_VAR_DIR": str(tmp_path), **env})
    script = "import json, crm.settings as s; print(json.dumps(s.CACHES['default']))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_two_installs_sharing_a_redis_get_a_cache_database_each(tmp_path):
    first = default_cache(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3")
    second = default_cache(tmp_path, REDIS_URL="redis://127.0.0.1:6379/5")

    assert first["BACKEND"] == second["BACKEND"] == "core.cache.TolerantRedisCache"
    # The database after the broker's: never the broker's own, never the other install's.
    assert first["LOCATION"] == "redis://127.0.0.1:6379/4"
    assert second["LOCATION"] == "redis://127.0.0.1:6379/6"


@pytest.mark.parametrize(
    ("redis_url", "cache_location"),
    [
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/1"),
        (
            "redis://:secret@redis:6379/0?socket_keepalive=1",
            "redis://:secret@redis:6379/1?socket_keepalive=1",
        ),
        ("rediss://cache.example.com:6380/2", "rediss://cache.example.com:6380/3"),
        ("unix:///run/redis/redis.sock?db=2", "unix:///run/redis/redis.sock?db=3"),
    ],
)
def test_the_cache_takes_the_database_after_redis_urls(tmp_path, redis_url, cache_location):
    assert default_cache(tmp_path, REDIS_URL=redis_url)["LOCATION"] == cache_location


def test_cache_url_names_the_cache_whatever_redis_url_says(tmp_path):
    cache = default_cache(
        tmp_path, REDIS_URL="redis://127.0.0.1:6379/3", CACHE_URL="redis://127.0.0.1:6379/9"
    )

    assert cache["LOCATION"] == "redis://127.0.0.1:6379/9"


def test_without_redis_the_cache_is_files_under_var(tmp_path):
    cache = default_cache(tmp_path)

    assert cache == {
        "BACKEND": "core.cache.LockedFileBasedCache",
        "LOCATION": str(tmp_path / "cache"),
    }


def test_a_redis_url_without_a_database_number_is_refused(tmp_path):
    environ = {**os.environ, "CRM_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/cache"}
    environ.pop("CACHE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", "import crm.settings"],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
    )

    assert done.returncode != 0
    assert "ImproperlyConfigured: REDIS_URL must name its database by number" in done.stderr


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL")
def test_caches_of_two_redis_databases_keep_apart(tmp_path):
    server = urlsplit(os.environ["REDIS_URL"])._replace(path="", query="").geturl()
    first = default_cache(tmp_path, REDIS_URL=f"{server}/3")["LOCATION"]
    second = default_cache(tmp_path, REDIS_URL=f"{server}/5")["LOCATION"]
    key = f"figures-{uuid.uuid4().hex}"
    ours, theirs = (TolerantRedisCache(location, {"KEY_PREFIX": "crm"}) for location in (first, second))

    ours.set(key, "ours", 30)
    theirs.set(key, "theirs", 30)

    assert (ours.get(key), theirs.get(key)) == ("ours", "theirs")
    ours.delete(key)
    theirs.delete(key)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL")
def test_the_shared_cache_lives_in_redis_beside_the_broker():
    from crm import settings as crm_settings

    if not os.environ.get("CACHE_URL"):
        broker_database = int(urlsplit(os.environ["REDIS_URL"]).path.strip("/") or 0)
        assert urlsplit(crm_settings.CACHE_URL).path == f"/{broker_database + 1}"
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
