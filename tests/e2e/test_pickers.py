"""The district picker in the browser: a supervisor types a fragment, picks a district,
the line picker then offers only that district's line (a line chosen before, of another
district, is cleared), and the customer is saved. At desktop and phone width, with no
Content-Security-Policy complaint and no serious accessibility violation."""

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from tests.customers import conftest as customer_fixtures
from tests.e2e.axe import SIZES, serious_violations
from tests.factories import CustomerFactory, DistrictFactory, LineFactory

grid = customer_fixtures.grid


def option_texts(page, select: str) -> list[str]:
    return page.eval_on_selector(select, "s => Array.from(s.options).map(o => o.textContent)")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_supervisor_picks_a_district_and_its_line_and_saves(
    size, transactional_db, live_server, browser, log_in, artifacts, org_tree, grid, supervisor, manager
):
    # More districts and lines of the county, so that the fragment has something to leave out.
    for n in range(30):
        DistrictFactory(
            name=f"永安{n}号台区", station=org_tree["station"], line=LineFactory(station=org_tree["station"])
        )
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport=SIZES[size], bypass_csp=False
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda error: csp_errors.append(f"page error: {error}"))
    try:
        log_in(page, supervisor)
        page.goto(f"{live_server.url}/customers/new/")
        page.fill("#id_number", "5201234588")
        page.fill("#id_name", "雷山县永乐镇卫生院")
        page.fill("#id_address", "雷山县永乐镇1号")
        page.select_option("#id_station", str(org_tree["station"].pk))

        # A line first, of another district: it will not fit the district picked next.
        line_box = page.locator('[data-picker-search="id_line"]')
        expect(line_box).to_be_visible()
        line_box.fill("丹江")
        expect(page.locator("#id_line option")).to_have_count(2)
        page.select_option("#id_line", label="10kV丹江线")

        # The district: a fragment typed, Enter moves to the list, one option picked.
        box = page.locator('[data-picker-search="id_district"]')
        expect(box).to_have_attribute("aria-label", "搜索台区")
        box.fill("永乐")
        # The list the focus asked for (the first 20) gives way to the fragment's matches.
        expect(page.locator("#id_district option")).to_have_count(2)
        assert option_texts(page, "#id_district") == ["未指定台区", "永乐一号台区"]
        expect(page.locator("#id_district").locator("..").locator(".picker-status")).to_contain_text(
            "找到 1 项"
        )
        box.press("Enter")
        assert page.evaluate("document.activeElement.id") == "id_district"
        page.select_option("#id_district", label="永乐一号台区")

        # The line picker now offers only the district's line; the other one is cleared.
        expect(page.locator("#id_line option", has_text="10kV丹江线")).to_have_count(0)
        expect(page.locator("#id_line option")).to_have_count(2)
        assert option_texts(page, "#id_line") == ["未指定线路", "10kV永乐线"]
        assert page.input_value("#id_line") == ""
        page.select_option("#id_line", label="10kV永乐线")

        manager_box = page.locator('[data-picker-search="id_manager"]')
        manager_box.fill("张三")
        expect(page.locator("#id_manager option")).to_have_count(2)
        page.select_option("#id_manager", label="张三（雷山供电所）")
        page.screenshot(path=str(artifacts / f"pickers_customer_form_{size}.png"), full_page=True)

        with page.expect_navigation():
            page.get_by_role("button", name="保存").click()
        expect(page.locator("main .alert-success")).to_contain_text("客户档案已建立")
        customer = Customer.objects.get(number="5201234588")
        assert (customer.district, customer.line, customer.manager) == (
            grid["district"],
            grid["line"],
            manager,
        )

        # The edit page shows the chosen ones; changing the district clears the line.
        page.goto(f"{live_server.url}/customers/{customer.number}/edit/")
        assert option_texts(page, "#id_district") == ["未指定台区", "永乐一号台区"]
        page.locator('[data-picker-search="id_district"]').fill("丹江二号")
        expect(page.locator("#id_district option", has_text="丹江二号台区")).to_have_count(1)
        expect(page.locator("#id_district option")).to_have_count(3)  # empty, chosen, match
        page.select_option("#id_district", label="丹江二号台区")
        expect(page.locator("#id_line option", has_text="10kV丹江线")).to_have_count(1)
        assert page.input_value("#id_line") == ""
        page.screenshot(path=str(artifacts / f"pickers_customer_edit_{size}.png"), full_page=True)
        assert csp_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_pages_with_pickers_pass_the_accessibility_check(
    size, transactional_db, live_server, browser, log_in, artifacts, org_tree, grid, supervisor
):
    # The check's own script is let in past the Content-Security-Policy.
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport=SIZES[size], bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, supervisor)
        failures = {}
        for path in ("/customers/new/", "/customers/", "/tickets/", "/groups/new/"):
            page.goto(f"{live_server.url}{path}")
            page.locator("[data-picker-search]").first.wait_for(state="attached")
            if path == "/customers/":
                if size == "phone":
                    page.get_by_role("button", name="筛选").click()
                page.locator('[data-picker-search="id_district"]').fill("永乐")
                expect(page.locator("#id_district option")).to_have_count(2)
                page.screenshot(path=str(artifacts / f"pickers_customer_filters_{size}.png"))
            violations = serious_violations(page)
            if violations:
                failures[path] = violations
        assert failures == {}
    finally:
        context.close()


def test_without_javascript_or_with_the_search_down_the_form_still_saves(
    transactional_db, live_server, browser, log_in, org_tree, grid, supervisor, manager
):
    customer = CustomerFactory(
        number="5201234577",
        name="永乐村委会",
        address="雷山县永乐镇2号",
        station=org_tree["station"],
        district=grid["district"],
        line=grid["line"],
        manager=manager,
    )
    # No script: the search boxes stay hidden, the chosen values are shown and sent back.
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, supervisor)
        page.goto(f"{live_server.url}/customers/{customer.number}/edit/")
        expect(page.locator('[data-picker-search="id_district"]')).to_be_hidden()
        assert page.input_value("#id_district") == str(grid["district"].pk)
        page.fill("#id_name", "永乐村民委员会")
        with page.expect_navigation():
            page.get_by_role("button", name="保存").click()
        customer.refresh_from_db()
        assert customer.name == "永乐村民委员会"
        assert (customer.district, customer.line, customer.manager) == (
            grid["district"],
            grid["line"],
            manager,
        )
    finally:
        context.close()

    # The search endpoint failing: a message, and the chosen district stays.
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, supervisor)
        page.route("**/customers/pickers/districts/**", lambda route: route.fulfill(status=500, body="{}"))
        page.goto(f"{live_server.url}/customers/{customer.number}/edit/")
        page.locator('[data-picker-search="id_district"]').fill("丹江")
        status = page.locator("#id_district").locator("..").locator(".picker-status")
        expect(status).to_contain_text("暂时无法搜索，请稍后重试。")
        assert page.input_value("#id_district") == str(grid["district"].pk)
    finally:
        context.close()
