"""An account manager logs a phone call from the customer's 360 page and finds it on the timeline."""

from playwright.sync_api import expect

from customers.models import Interaction
from tests.factories import ContactFactory, CustomerFactory

SUMMARY = "电话回访：客户反映傍晚电压偏低，已约定明天上门检查。"


def test_a_manager_logs_a_contact_and_sees_it_on_the_timeline(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager
):
    customer = CustomerFactory(
        name="雷山县人民医院", station=org_tree["station"], manager=manager, is_important=True
    )
    ContactFactory(customer=customer, name="吴院长", mobile="13885550002", is_primary=True)

    log_in(page, manager)
    page.goto(f"{live_server.url}/customers/{customer.number}/")
    timeline = page.locator("#customer-timeline")
    expect(timeline).to_contain_text("暂无联系记录")

    with page.expect_navigation():
        page.locator("#log-contact").click()
    page.select_option("#id_channel", "phone")
    page.select_option("#id_mood", "dissatisfied")
    page.fill("#id_summary", SUMMARY)
    page.check("#id_step_listen")
    page.check("#id_step_solution")
    with page.expect_navigation():
        page.get_by_role("button", name="保存联系记录").click()

    assert page.url.endswith(f"/customers/{customer.number}/"), page.url
    expect(page.locator("main .alert-success")).to_contain_text("联系记录已保存")
    entry = page.locator("#customer-timeline .timeline-interaction").first
    expect(entry).to_contain_text(SUMMARY)
    expect(entry).to_contain_text("电话")
    expect(entry).to_contain_text("耐心倾听、给出方案")
    page.screenshot(path=str(artifacts / "log_contact.png"), full_page=True)
    stored = Interaction.objects.get()
    assert (stored.customer, stored.staff, stored.mood) == (customer, manager, "dissatisfied")
