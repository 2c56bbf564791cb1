"""Configuration: typed environment readers, production checks, migrations in step with models."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from core.env import env_bool, env_int, env_list, env_str
from tests.celery_worker import database_url

BASE_DIR = Path(__file__).resolve().parents[2]
# 64 characters, mixed classes: passes Django's security.W009.
STRONG_SECRET_KEY = "p7#Qx!v2Lr$9ZkT&mW4^bN8*eY1@hC6(jU3)sF5_dA0+gR2=tK7~oP9-iM4%wE8z"


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    # A private SQLite file and queue folder: the checks must not depend on, or
    # touch, the developer's database.
    environ.update({"CRM_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "crm.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("off", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("CRM_TEST_FLAG", raw)

    assert env_bool("CRM_TEST_FLAG", not expected) is expected


def test_env_bool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("CRM_TEST_FLAG", raising=False)

    assert env_bool("CRM_TEST_FLAG", True) is True
    assert env_bool("CRM_TEST_FLAG", False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled", "tru"])
def test_env_bool_rejects_a_bad_value(monkeypatch, raw):
    monkeypatch.setenv("CRM_TEST_FLAG", raw)

    with pytest.raises(ImproperlyConfigured, match="CRM_TEST_FLAG"):
        env_bool("CRM_TEST_FLAG", False)


def test_env_int_reads_a_number_or_the_default(monkeypatch):
    monkeypatch.setenv("CRM_TEST_NUMBER", " 42 ")
    assert env_int("CRM_TEST_NUMBER", 7) == 42

    monkeypatch.setenv("CRM_TEST_NUMBER", "")
    assert env_int("CRM_TEST_NUMBER", 7) == 7

    monkeypatch.delenv("CRM_TEST_NUMBER")
    assert env_int("CRM_TEST_NUMBER", 7) == 7


@pytest.mark.parametrize("raw", ["ten", "4.5", "1e3", "30s"])
def test_env_int_rejects_a_bad_value(monkeypatch, raw):
    monkeypatch.setenv("CRM_TEST_NUMBER", raw)

    with pytest.raises(ImproperlyConfigured, match="CRM_TEST_NUMBER"):
        env_int("CRM_TEST_NUMBER", 7)


def test_env_list_and_env_str(monkeypatch):
    monkeypatch.setenv("CRM_TEST_LIST", " crm.example.com, ,localhost ")
    monkeypatch.setenv("CRM_TEST_TEXT", "hello")

    assert env_list("CRM_TEST_LIST") == ["crm.example.com", "localhost"]
    assert env_list("CRM_TEST_UNSET_LIST", ["a"]) == ["a"]
    assert env_str("CRM_TEST_TEXT") == "hello"
    assert env_str("CRM_TEST_UNSET_TEXT", "fallback") == "fallback"


def test_production_settings_pass_the_deploy_checks(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET_KEY,
        ALLOWED_HOSTS="crm.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = manage("check", tmp_path=tmp_path, DEBUG="0", SECRET_KEY="", ALLOWED_HOSTS="crm.example.com")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_a_bad_boolean_stops_the_process_at_start_up(tmp_path):
    result = manage("check", tmp_path=tmp_path, DEBUG="perhaps")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DEBUG" in result.stderr


def test_models_and_migrations_are_in_step(tmp_path):
    result = manage("makemigrations", "--check", "--dry-run", tmp_path=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_collectstatic_succeeds(tmp_path):
    result = manage(
        "collectstatic",
        "--noinput",
        tmp_path=tmp_path,
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET_KEY,
        ALLOWED_HOSTS="crm.example.com",
        STATIC_ROOT=str(tmp_path / "static"),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_a_pool_size_out_of_order_stops_the_process_at_start_up(tmp_path):
    result = manage(
        "check",
        tmp_path=tmp_path,
        DATABASE_URL="postgres://crm@127.0.0.1:5432/crm",
        DB_POOL="1",
        DB_POOL_MIN_SIZE="4",
        DB_POOL_MAX_SIZE="2",
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DB_POOL_MIN_SIZE" in result.stderr


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the connection pool is psycopg 3's, for PostgreSQL only"
)
def test_a_web_process_borrows_its_connection_from_the_pool_and_gives_it_back(db, tmp_path):
    # The test database, reached the way a gunicorn worker reaches its own (DB_POOL=1).
    code = (
        "from django.db import connection\n"
        # Filled first (min_size), so that the borrowing below does not grow it meanwhile.
        "connection.pool.open(wait=True)\n"
        "connection.cursor().execute('SELECT 1')\n"
        "print(connection.settings_dict['CONN_MAX_AGE'], connection.pool.get_stats()['pool_available'])\n"
        "connection.close()\n"
        "print(connection.pool.get_stats()['pool_available'])\n"
    )

    result = manage(
        "shell", "--no-imports", "-c", code, tmp_path=tmp_path, DATABASE_URL=database_url(), DB_POOL="1"
    )

    assert result.returncode == 0, result.stderr
    conn_max_age, while_lent, after_close = map(int, result.stdout.split())
    assert conn_max_age == 0, "a pool replaces persistent connections"
    assert (while_lent, after_close) == (0, 1), "lent while in use, back in the pool at the end"
