"""The API description: served from the application (no CDN), behind login unless API_DOCS_PUBLIC."""

import re

import pytest
from django.contrib.staticfiles import finders
from rest_framework.authtoken.models import Token

DOCS = ("/api/docs/", "/api/redoc/")


def _directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", DOCS)
def test_a_visitor_is_sent_to_login_for_the_docs(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_schema_wants_a_session_or_a_token(api, client, manager):
    assert client.get("/api/schema/").status_code == 401
    token = Token.objects.create(user=manager)
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    assert api(manager).get("/api/schema/").status_code == 200


def test_api_docs_public_opens_all_three(client, db, settings):
    settings.API_DOCS_PUBLIC = True

    for path in ("/api/schema/", *DOCS):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("path", DOCS)
def test_the_docs_load_only_from_the_site(login, manager, path):
    response = login(manager).get(path)
    page = response.content.decode()

    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page
    assert all(source.startswith("/") for source in sources), sources
    assert "cdn.jsdelivr.net" not in page and "fonts.googleapis.com" not in page
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/").split("?")[0]), source
    directives = _directives(response)
    assert directives["script-src"] == ["'self'"]
    assert not any("http" in value for values in directives.values() for value in values)
