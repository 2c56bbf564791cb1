"""Swagger UI and ReDoc render from the application's own files under its CSP: no request
leaves the site.

ReDoc's sidebar always draws Redocly's logo from cdn.redoc.ly (redoc.standalone.js has no
option against it): the policy blocks that one image, so it never leaves the browser.
"""

import pytest

from tests.e2e import test_csp

watched_page = test_csp.watched_page

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    ("path", "ready", "blocked"),
    [
        ("/api/docs/", ".swagger-ui .info .title", set()),
        ("/api/redoc/", "h1:has-text('Grid CRM API')", {REDOC_LOGO}),
    ],
    ids=["swagger-ui", "redoc"],
)
def test_the_api_docs_render_from_the_site(
    live_server, watched_page, log_in, manager, artifacts, path, ready, blocked
):
    page = watched_page
    sent_outside: list[str] = []
    page.on(
        "requestfinished",
        lambda request: (
            None
            if request.url.startswith((live_server.url, "blob:", "data:"))
            else sent_outside.append(request.url)
        ),
    )
    log_in(page, manager)

    page.goto(f"{live_server.url}{path}")
    page.wait_for_selector(ready, timeout=30_000)
    page.wait_for_load_state("networkidle")

    assert "Grid CRM API" in page.inner_text("body")
    page.screenshot(path=str(artifacts / f"api-docs-{path.strip('/').replace('/', '-')}.png"))
    assert sent_outside == []
    violations = page.evaluate("window.__cspViolations || []")
    assert {violation.split(" ", 1)[1] for violation in violations} == blocked
    assert [error for error in page.csp_errors if not any(url in error for url in blocked)] == []
