"""A county supervisor reads a quieter inbox: one row per order, a digest of escalations."""

from django.utils import timezone
from playwright.sync_api import expect

from notifications.digests import ESCALATIONS, digest_entries_add, digests_send
from notifications.models import Notification
from tests.factories import CustomerFactory, NotificationFactory
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy


def test_a_supervisor_reads_orders_grouped_and_a_digest(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager, supervisor
):
    seed_default_policies(SlaPolicy)
    customer = CustomerFactory(name="杨丽", station=org_tree["station"], manager=manager)
    orders = [
        services.ticket_create(
            customer=customer,
            opened_by=manager,
            assignee=manager,
            kind=Kind.REPAIR,
            title=f"家中停电 {n}",
            description="客户反映家中无电。",
        )[0]
        for n in range(3)
    ]
    busy = orders[0]
    link = f"/tickets/{busy.number}/"
    for subject in ("工单待签收", "工单签收超时（1级）", "工单即将超时"):
        NotificationFactory(recipient=supervisor, link=link, subject=f"{subject}：{busy.number}")
    digest_entries_add(
        [
            {
                "recipient_id": supervisor.pk,
                "topic": ESCALATIONS,
                "dedupe_key": f"ticket:{t.pk}:r1:overdue:1:{supervisor.pk}",
                "subject": f"工单已超时（1级）：{t.number}",
                "link": f"/tickets/{t.number}/",
            }
            for t in orders[1:]
        ]
    )
    digests_send(now=timezone.now())

    log_in(page, supervisor)
    page.goto(f"{live_server.url}/notifications/")
    rows = page.locator("#notification-list > .list-group-item")
    expect(rows).to_have_count(2)
    digest, grouped = rows.nth(0), rows.nth(1)
    expect(digest).to_contain_text("工单超时升级汇总（2 条）")
    expect(digest.locator(".digest-lines a")).to_have_count(2)
    expect(grouped).to_contain_text(f"工单即将超时：{busy.number}")
    expect(grouped.locator(".group-count")).to_have_text("共 3 条")
    grouped.locator("details.group-earlier summary").click()
    expect(grouped.locator("details.group-earlier li")).to_have_count(2)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(artifacts / "inbox-grouped.png"), full_page=True)

    with page.expect_navigation():
        grouped.get_by_role("button", name="查看").click()
    assert page.url.endswith(link)
    assert not Notification.objects.filter(recipient=supervisor, link=link, read_at__isnull=True).exists()
    assert Notification.objects.filter(
        recipient=supervisor, dedupe_key__startswith="digest:", read_at=None
    ).exists()
