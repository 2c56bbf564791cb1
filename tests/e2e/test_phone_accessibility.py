"""axe-core over every page of the main navigation, at desktop and phone width, in Chinese
and in English: no serious or critical violation (WCAG 2.1 A and AA rules).

axe-core is vendored (tests/e2e/vendor, MPL-2.0) so that the check needs no network.
"""

from urllib.parse import urlparse

import pytest
from django.core.cache import cache

from tests.e2e.axe import SIZES, serious_violations
from tests.e2e.field_day import field_day


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("role,language", [("manager", "zh-hans"), ("supervisor", "en")])
def test_the_main_pages_pass_the_accessibility_check(
    role,
    language,
    size,
    request,
    transactional_db,
    live_server,
    browser,
    log_in,
    artifacts,
    org_tree,
    manager,
):
    user = request.getfixturevalue(role)
    cache.clear()
    field_day(org_tree, manager, user)
    # The page's Content-Security-Policy forbids inline scripts; the check's own script is let in.
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport=SIZES[size], bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, user)
        if language != "zh-hans":
            context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page.goto(f"{live_server.url}/")
        hrefs = page.eval_on_selector_all(
            "#main-nav .navbar-nav a.nav-link", "links => links.map(a => a.getAttribute('href'))"
        )
        failures = {}
        for path in [href for href in dict.fromkeys(["/", *hrefs]) if not href.startswith("/admin/")]:
            page.goto(f"{live_server.url}{path}")
            violations = serious_violations(page)
            if violations:
                failures[urlparse(page.url).path] = violations
        assert failures == {}, "\n".join(f"{path}: {v}" for path, found in failures.items() for v in found)
    finally:
        context.close()


def test_the_skip_link_comes_first_and_the_focus_shows_on_the_menu(
    transactional_db, live_server, page, log_in, org_tree, manager
):
    field_day(org_tree, manager)
    log_in(page, manager)
    page.set_viewport_size(SIZES["desktop"])
    page.goto(f"{live_server.url}/customers/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible() and skip.bounding_box()["height"] > 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    link = page.locator("#main-nav .nav-link").first
    link.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
    outline = link.evaluate(
        "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth"
    )
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline
