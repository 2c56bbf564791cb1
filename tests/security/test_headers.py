"""Security headers on pages and API answers; HTTPS-only settings in production."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.crm.test_settings import STRONG_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


def assert_hardened(response):
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "scripts only from our own static files"
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_page_carries_the_security_headers(login, manager):
    response = login(manager).get(reverse("customers:list"))

    assert response.status_code == 200
    assert_hardened(response)


def test_the_login_page_carries_the_security_headers(client, db):
    response = client.get(reverse("accounts:login"))

    assert response.status_code == 200
    assert_hardened(response)


def test_an_api_answer_carries_the_security_headers(login, manager):
    response = login(manager).get("/api/v1/customers/")

    assert response.status_code == 200
    assert_hardened(response)


def test_a_refused_api_request_carries_them_too(client, db):
    response = client.get("/api/v1/customers/")

    assert response.status_code == 401
    assert_hardened(response)


def test_the_api_docs_load_swagger_from_the_site_not_a_cdn(login, manager):
    client = login(manager)
    docs = client.get(reverse("api-docs"))

    assert docs.status_code == 200
    assert directives(docs)["script-src"] == ["'self'"]
    assert "<script>" not in docs.content.decode(), "the start-up script is served as a file"
    assert "cdn.jsdelivr.net" not in docs.content.decode()


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted((BASE_DIR / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_scripts_or_event_handlers(template):
    source = template.read_text(encoding="utf-8")

    assert not INLINE_SCRIPT.findall(source), "move the script to static/js"
    assert not INLINE_HANDLER.findall(source), "use a data-* attribute wired in static/js/crm.js"


def production_settings(**env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "DEBUG"))}
    environ.update({"DJANGO_SETTINGS_MODULE": "crm.settings", **env})
    names = [
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "X_FRAME_OPTIONS",
    ]
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_turns_on_hsts_and_secure_cookies(tmp_path):
    values = production_settings(
        DEBUG="0", SECRET_KEY=STRONG_SECRET_KEY, ALLOWED_HOSTS="crm.example.com", CRM_VAR_DIR=str(tmp_path)
    )

    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"


def test_the_embedded_default_keeps_plain_http_cookies(tmp_path):
    values = production_settings(DEBUG="1", CRM_VAR_DIR=str(tmp_path))

    assert not values["SECURE_HSTS_SECONDS"]
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    # These hold everywhere.
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
