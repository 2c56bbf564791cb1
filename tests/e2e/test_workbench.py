"""An account manager signs for the most pressing order from the workbench."""

import re
from datetime import timedelta

import time_machine
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import CustomerFactory
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy, Status, Ticket


def _complaint(customer, manager, ago: timedelta, title: str) -> Ticket:
    with time_machine.travel(timezone.now() - ago, tick=False):
        ticket, _created = services.ticket_create(
            customer=customer,
            opened_by=manager,
            assignee=manager,
            kind=Kind.COMPLAINT,
            title=title,
            description="客户来电反映电费异常。",
        )
    return ticket


def test_an_account_manager_signs_for_a_near_deadline_order_from_the_workbench(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager
):
    seed_default_policies(SlaPolicy)
    cache.clear()
    customer = CustomerFactory(name="杨丽", station=org_tree["station"], manager=manager)
    # Complaints must be signed within 2 hours; the warning comes at 96 minutes.
    fresh = _complaint(customer, manager, timedelta(minutes=5), "咨询电费账单")
    near = _complaint(customer, manager, timedelta(minutes=100), "电费突增投诉")

    log_in(page, manager)
    page.goto(f"{live_server.url}/")
    section = page.locator("#wb-orders")
    first = section.locator(".wb-order").first
    expect(first).to_have_attribute("data-ticket", near.number)
    expect(first).to_have_class(re.compile("list-group-item-warning"))
    expect(first).to_contain_text("电费突增投诉")
    expect(section.locator("#wb-count-unsigned .count")).to_have_text("2")
    expect(section.locator("#wb-count-near .count")).to_have_text("1")

    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(artifacts / "workbench-1366x768.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "workbench-390x844.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})

    first.get_by_role("button", name="签收").click()
    expect(page.locator("#wb-orders #wb-count-unsigned .count")).to_have_text("1")
    expect(page.locator("#wb-orders .alert-success")).to_contain_text(near.number)
    near.refresh_from_db()
    fresh.refresh_from_db()
    assert near.status == Status.SIGNED
    assert fresh.status == Status.DISPATCHED
