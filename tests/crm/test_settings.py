"""Configuration: typed environment readers, production checks, migrations in step with models."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list, env_str

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
