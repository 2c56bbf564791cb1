"""A contact log that names an order nobody can find is sent back with the error on the input, in Chinese."""

import pytest
from playwright.sync_api import expect

from customers.models import Interaction
from tests.e2e.axe import SIZES
from tests.factories import ContactFactory, CustomerFactory


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_unknown_order_number_is_refused_on_its_input(
    size, transactional_db, live_server, browser, log_in, artifacts, org_tree, manager
):
    customer = CustomerFactory(name="雷山县人民医院", station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer, name="吴院长", mobile="13885550002", is_primary=True)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=SIZES[size])
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        log_in(page, manager)
        page.goto(f"{live_server.url}/customers/{customer.number}/interactions/new/")
        page.select_option("#id_channel", "phone")
        page.fill("#id_summary", "电话回访：客户询问抢修进度。")
        page.fill("#id_ticket_number", "GD999")
        with page.expect_navigation():
            page.get_by_role("button", name="保存联系记录").click()

        number = page.locator("#id_ticket_number")
        expect(number).to_have_attribute("aria-invalid", "true")
        expect(number).to_have_class("form-control is-invalid")
        expect(number).to_have_value("GD999")
        described = number.get_attribute("aria-describedby") or ""
        assert "id_ticket_number_error" in described.split(), described
        expect(page.locator("#id_ticket_number_error")).to_have_text("工单不存在或无权查看。")
        expect(page.locator("#id_ticket_number_error")).to_be_visible()
        page.screenshot(path=str(artifacts / f"log_contact_bad_order_{size}.png"), full_page=True)
        assert not Interaction.objects.exists()
    finally:
        context.close()
