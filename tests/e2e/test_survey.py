"""A customer rates the service on a 390 px phone from the link in their SMS."""

from django.core.cache import cache
from playwright.sync_api import expect

from tests.factories import ContactFactory, CustomerFactory
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, ReturnVisit, SlaPolicy, Status, Ticket
from tickets.survey import survey_token


def test_a_customer_rates_the_service_on_a_phone(
    transactional_db, live_server, browser, artifacts, org_tree, manager
):
    seed_default_policies(SlaPolicy)
    cache.clear()
    customer = CustomerFactory(name="杨丽", station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer, name="杨丽", mobile="13885550001", is_primary=True)
    ticket, _created = services.ticket_create(
        customer=customer,
        opened_by=manager,
        assignee=manager,
        kind=Kind.REPAIR,
        title="家中停电",
        description="客户反映家中无电。",
    )
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="更换熔断器后已复电。")
    visit = ticket.return_visits.get()

    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        reduced_motion="reduce",  # no button transitions half-way through in the screenshot
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/tickets/survey/{survey_token(visit.pk)}/")
        expect(page.get_by_role("heading", name="服务满意度评价")).to_be_visible()
        # Phone width: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_text("基本满意", exact=True).click()
        expect(page.locator("#result-basically")).to_be_checked()
        page.fill("#comment", "抢修及时，希望提前通知。")
        page.screenshot(path=str(artifacts / "survey-390.png"), full_page=True)
        page.get_by_role("button", name="提交评价").click()
        expect(page.get_by_text("感谢您的评价")).to_be_visible()
        page.screenshot(path=str(artifacts / "survey-390-thanks.png"), full_page=True)
    finally:
        context.close()

    visit = ReturnVisit.objects.get(pk=visit.pk)
    assert (visit.method, visit.result, visit.note) == ("self", "basically", "抢修及时，希望提前通知。")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.VISITED
