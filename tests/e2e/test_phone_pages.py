"""Every page of the main navigation at phone width (390×844), for each role.

On a phone the lists become cards, the filters fold behind one button, phones are
tel: links, touch targets are at least 44 px tall, nothing scrolls sideways and
the first record shows on the first screen.
"""

from urllib.parse import urlparse

import pytest
from django.core.cache import cache

from accounts.models import User
from tests.e2e.field_day import RECORDS, field_day
from tests.factories import UserFactory

PHONE = {"width": 390, "height": 844}

# Visible interactive controls of the main content that a thumb must hit.
TOUCH_TARGETS = (
    "main .btn:not(.btn-close), main .page-link, main .form-control, main .form-select, "
    "main a[href^='tel:'], nav .navbar-toggler"
)

_LAYOUT = """(selector) => {
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const label = `${el.tagName}.${el.className} “${el.textContent.trim().slice(0, 20)}”`;
    if (box.height < 44) small.push(`${label} ${Math.round(box.height)}px`);
  }
  // What sticks out on the right (the innermost ones say why a page scrolls sideways).
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => !el.closest('.table-responsive'))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(-3).map(el => `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}px`);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, small, wide};
}"""


@pytest.fixture
def station_supervisor(org_tree):
    return UserFactory(
        username="chenqi", real_name="陈七", org_unit=org_tree["station"], role=User.Role.SUPERVISOR
    )


@pytest.mark.parametrize(
    "role,language",
    [
        ("manager", "zh-hans"),
        ("station_supervisor", "zh-hans"),
        ("supervisor", "zh-hans"),
        ("admin_user", "zh-hans"),
        ("manager", "en"),
        ("supervisor", "en"),
    ],
)
def test_every_main_page_fits_a_phone(
    role, language, request, transactional_db, live_server, browser, log_in, artifacts, org_tree, manager
):
    user = request.getfixturevalue(role)
    cache.clear()
    field_day(org_tree, manager, user)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=PHONE, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, user)
        if language != "zh-hans":
            context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page.goto(f"{live_server.url}/")
        hrefs = page.eval_on_selector_all(
            "#main-nav .navbar-nav a.nav-link", "links => links.map(a => a.getAttribute('href'))"
        )
        pages = [href for href in dict.fromkeys(["/", *hrefs]) if not href.startswith("/admin/")]
        assert "/customers/" in pages and "/tickets/" in pages and "/customers/visits/mine/" in pages, pages

        for path in pages:
            page.goto(f"{live_server.url}{path}")
            landed = urlparse(page.url).path
            name = landed.strip("/").replace("/", "-") or "home"
            page.screenshot(path=str(artifacts / f"phone-{language}-{role}-{name}.png"), full_page=False)
            layout = page.evaluate(_LAYOUT, TOUCH_TARGETS)
            assert layout["scrollWidth"] <= layout["innerWidth"], f"{landed} scrolls sideways: {layout}"
            assert not layout["small"], f"{landed}: touch targets under 44 px: {layout['small']}"
            first = page.locator(RECORDS[landed]).first
            box = first.bounding_box()
            assert box is not None, f"{landed}: no record shown"
            assert box["y"] < PHONE["height"] - 40, f"{landed}: first record starts at {box['y']} px"

            if landed in ("/customers/", "/tickets/"):
                # Filters fold behind one button on a phone; one tap opens them.
                toggle = page.locator("main [data-filters-toggle]")
                assert toggle.is_visible(), f"{landed}: no 筛选 button"
                assert not page.locator("main .list-filters").is_visible()
            # Each list table says what it lists to a screen reader (the dashboard's tables are
            # named by their sections' headings).
            if landed != "/dashboard/":
                uncaptioned = page.locator("main table:not(:has(caption))").count()
                assert uncaptioned == 0, f"{landed}: a table without caption"
            if landed == "/customers/":
                # The manager owns these customers: full numbers, tel: links; others see masks.
                tel = page.locator("main a[href^='tel:']")
                if role == "manager":
                    assert tel.count() == 3
                    assert page.locator("main a[href='tel:13985551234']").is_visible()
                else:
                    masked = page.locator("main .customer-phone").first.inner_text()
                    assert "*" in masked and tel.count() == 0, masked
        if role == "manager" and language == "zh-hans":
            page.goto(f"{live_server.url}/customers/")
            page.locator("main [data-filters-toggle]").click()
            page.locator("main .list-filters.show").wait_for(state="visible")  # the fold has opened
            page.screenshot(path=str(artifacts / "phone-manager-customers-filters.png"), full_page=False)
    finally:
        context.close()


def test_filters_stay_open_on_a_desktop(transactional_db, live_server, page, log_in, org_tree, manager):
    field_day(org_tree, manager)
    log_in(page, manager)
    page.set_viewport_size({"width": 1366, "height": 768})
    for path in ("/customers/", "/tickets/", "/groups/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("main .list-filters").is_visible(), path
        assert not page.locator("main [data-filters-toggle]").is_visible(), path
