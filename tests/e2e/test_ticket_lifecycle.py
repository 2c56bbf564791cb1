"""An account manager takes a repair order through its whole life in the browser;
a colleague makes the return visit."""

import re

from playwright.sync_api import expect

from tests.factories import ContactFactory, CustomerFactory
from tickets.models import ReturnVisit, Status, Ticket, TicketEvent

TITLE = "永乐路家中停电"
DESCRIPTION = "客户来电反映家中无电，邻居家有电，请尽快派人检查。"
RESOLUTION = "更换烧损的进户线接头，客户已复电。"


def submit(page, action_url: str, button: str) -> None:
    """Press the named button of the form posting to `action_url` and wait for the next page."""
    form = page.locator(f'form[action="{action_url}"]')
    with page.expect_navigation():
        form.get_by_role("button", name=button, exact=True).click()


def open_step(page, action_url: str, summary: str):
    """Unfold a step that asks for input and return its form."""
    step = page.locator("details.ticket-action").filter(has=page.locator(f'form[action="{action_url}"]'))
    step.locator("summary", has_text=summary).click()
    form = step.locator("form")
    expect(form).to_be_visible()
    return form


def test_an_account_manager_takes_a_repair_order_from_intake_to_return_visit(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager, colleague
):
    customer = CustomerFactory(name="杨丽", station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer, name="杨丽", mobile="13885550001", is_primary=True)
    status = page.locator(".ticket-badges .badge").first
    success = page.locator("main .alert-success")

    log_in(page, manager)
    page.goto(f"{live_server.url}/customers/{customer.number}/")
    tickets_panel = page.locator("section[aria-labelledby=tickets-title]")
    expect(tickets_panel).to_contain_text("该客户还没有工单")
    with page.expect_navigation():
        tickets_panel.get_by_role("link", name="新建工单").click()
    assert page.url.endswith(f"/tickets/new/?customer={customer.number}"), page.url
    expect(page.locator("main")).to_contain_text(f"户号 {customer.number}")

    form = page.locator(f'form[action="/tickets/new/?customer={customer.number}"]')
    form.get_by_label("工单类型").select_option(label="报修")
    form.get_by_label("标题").fill(TITLE)
    form.get_by_label("诉求内容").fill(DESCRIPTION)
    form.get_by_label("处理人").select_option(label="张三（雷山供电所）")
    with page.expect_navigation():
        form.get_by_role("button", name="受理", exact=True).click()

    match = re.search(r"/tickets/([^/]+)/$", page.url)
    assert match and match.group(1) != "new", page.url
    number = match.group(1)
    ticket_url = f"/tickets/{number}"
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(success).to_contain_text(f"工单 {number} 已受理。")
    expect(status).to_have_text("已派单")
    expect(page.locator(".ticket-fields")).to_contain_text(DESCRIPTION)

    submit(page, f"{ticket_url}/sign/", "签收工单")
    expect(success).to_contain_text("已签收")
    expect(status).to_have_text("已签收")

    resolve = open_step(page, f"{ticket_url}/resolve/", "办结")
    resolve.get_by_label("解决方式").select_option(label="直接解决")
    resolve.get_by_label("处理结果").fill(RESOLUTION)
    submit(page, f"{ticket_url}/resolve/", "确认办结")
    expect(success).to_contain_text("工单已办结")
    expect(status).to_have_text("已办结")
    expect(page.locator(".ticket-resolution")).to_contain_text(RESOLUTION)
    expect(page.locator(".ticket-visits")).to_contain_text("待回访")

    # Whoever handled the order does not make its return visit: a colleague of the station does.
    expect(page.locator(f'form[action="{ticket_url}/return-visit/"]')).to_have_count(0)
    page.context.clear_cookies()
    log_in(page, colleague)
    page.goto(f"{live_server.url}{ticket_url}/")
    visit = open_step(page, f"{ticket_url}/return-visit/", "回访")
    visit.get_by_label("回访方式").select_option(label="电话")
    visit.get_by_label("回访结果").select_option(label="满意")
    visit.get_by_label("回访记录").fill("客户表示已正常用电，对处理满意。")
    submit(page, f"{ticket_url}/return-visit/", "保存回访")
    expect(success).to_contain_text("回访已记录")
    expect(status).to_have_text("已回访")
    expect(page.locator(".ticket-visits")).to_contain_text("满意 · 电话 · 李四")

    timeline = page.locator(".ticket-timeline > li")  # newest first
    expect(timeline.locator("strong")).to_have_text(["回访", "办结", "签收", "派单", "受理"])
    expect(timeline.nth(0)).to_contain_text("李四 （已办结 → 已回访）")
    expect(timeline.nth(0)).to_contain_text("回访结果：满意")
    expect(timeline.nth(1)).to_contain_text("张三 （已签收 → 已办结）")
    expect(timeline.nth(2)).to_contain_text("张三 （已派单 → 已签收）")
    expect(page.locator(".ticket-actions")).not_to_contain_text("签收工单")
    page.screenshot(path=str(artifacts / "ticket_lifecycle.png"), full_page=True)

    ticket = Ticket.objects.get(number=number)
    assert ticket.status == Status.VISITED
    assert (ticket.customer, ticket.assignee, ticket.opened_by) == (customer, manager, manager)
    assert ticket.resolution == RESOLUTION
    assert list(ticket.events.values_list("action", flat=True)) == [
        TicketEvent.Action.CREATED,
        TicketEvent.Action.DISPATCHED,
        TicketEvent.Action.SIGNED,
        TicketEvent.Action.RESOLVED,
        TicketEvent.Action.RETURN_VISIT,
    ]
    visit_row = ticket.return_visits.get()
    assert visit_row.result == ReturnVisit.Result.SATISFIED
    assert visit_row.method == ReturnVisit.Method.PHONE
    assert visit_row.visited_by == colleague
