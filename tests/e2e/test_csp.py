"""The Content-Security-Policy breaks nothing: pages load, and the behaviours that
used to be inline handlers (auto-submit, confirm, print) still work, with no
violation reported by the browser."""

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from groups.models import GroupKind
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

# Recorded in the page itself, besides the console: the event carries the blocked directive.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
window.__printed = 0;
window.print = function () { window.__printed += 1; };
"""


@pytest.fixture
def watched_page(page):
    """The page, with every CSP complaint of the browser collected in `page.csp_errors`."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.add_init_script(WATCH_VIOLATIONS)
    page.csp_errors = errors
    return page


def assert_no_violations(page, where: str):
    violations = page.evaluate("window.__cspViolations || []")
    assert not page.csp_errors and not violations, f"{where}: {page.csp_errors} {violations}"


@pytest.fixture
def scenario(transactional_db, org_tree, manager):
    seed_default_policies(SlaPolicy)
    district = DistrictFactory(code="TQ-CSP-1", name="永乐一号台区", station=org_tree["station"])
    customer = CustomerFactory(station=org_tree["station"], district=district, manager=manager, name="杨丽")
    contact = ContactFactory(customer=customer, name="杨丽", mobile="13885550123")
    group = group_create(
        by=manager, name="永乐一号台区服务群", kind=GroupKind.DISTRICT, district=district, rules="文明发言。"
    )
    membership_add_contact(group=group, contact=contact, by=manager)
    ticket, _created = ticket_services.ticket_create(
        customer=customer,
        opened_by=manager,
        kind=Kind.REPAIR,
        title="家中停电",
        description="请尽快派人检查。",
    )
    return {"customer": customer, "group": group, "ticket": ticket}


def test_pages_work_under_the_content_security_policy(
    live_server, watched_page, log_in, scenario, manager, supervisor
):
    page = watched_page
    url = live_server.url
    customer = scenario["customer"]

    log_in(page, manager)
    for path in [
        "/",
        "/customers/",
        f"/customers/{customer.number}/",
        "/tickets/",
        f"/tickets/{scenario['ticket'].number}/",
        "/groups/",
        f"/groups/{scenario['group'].pk}/",
        "/outages/",
        "/notifications/",
        "/customers/visits/mine/",
    ]:
        response = page.goto(url + path)
        assert response.status == 200, path
        assert_no_violations(page, path)

    # Deleting asks first (data-confirm); saying no keeps the archive.
    page.goto(f"{url}/customers/{customer.number}/")
    questions: list[str] = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator(f'form[action="/customers/{customer.number}/delete/"] button[type=submit]').click()
    page.wait_for_timeout(300)
    assert questions and "确定删除该客户档案吗" in questions[0]
    assert page.url.endswith(f"/customers/{customer.number}/")
    assert Customer.objects.filter(pk=customer.pk).exists()

    # The language switch submits itself on change (data-autosubmit).
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert_no_violations(page, "language switch")

    # The supervisor's dashboard: charts drawn, period buttons submit, print works.
    page.context.clear_cookies()
    log_in(page, supervisor)
    page.goto(f"{url}/dashboard/")
    expect(page.locator("#chart-per-day")).to_be_visible()
    with page.expect_navigation():
        page.locator("label[for=period-today]").click()
    assert "period=today" in page.url, page.url
    page.locator("button[data-print]").click()
    assert page.evaluate("window.__printed") == 1
    assert_no_violations(page, "dashboard")
