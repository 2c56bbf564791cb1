"""An account manager registers a planned outage in the scope picker, publishes it,
and sees its notices queued for the sensitive customers."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import Notification
from outages import services
from outages.models import Outage, OutageStatus
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory, LineFactory


def test_a_manager_publishes_a_planned_outage_and_sees_its_notices_queued(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager
):
    station = org_tree["station"]
    line = LineFactory(code="XL-LS-9", name="10kV永乐线", station=station)
    district = DistrictFactory(code="TQ-9", name="永乐九号台区", station=station, line=line, manager=manager)
    for index in range(3):
        customer = CustomerFactory(
            name=f"永乐村{index + 1}号",
            station=station,
            district=district,
            line=line,
            manager=manager,
            vip_tier=1 if index == 0 else 0,
        )
        ContactFactory(customer=customer, mobile=f"1398555000{index}", is_primary=True)
    start = timezone.localtime() + timedelta(hours=12)

    log_in(page, manager)
    page.goto(f"{live_server.url}/outages/new/")
    page.select_option("#id_kind", "planned")
    page.fill("#id_reason", "10kV永乐线检修")
    page.fill("#id_planned_start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_planned_end", (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.check(f"#district-{district.pk}")
    with page.expect_navigation():
        page.get_by_role("button", name="保存").click()
    expect(page.locator("main")).to_contain_text("影响 3 户，其中敏感客户 1 户")

    with page.expect_navigation():
        page.get_by_role("button", name="发布停电通知").click()
    expect(page.locator("main .alert-success")).to_contain_text("停电已发布")
    notices = page.locator("table.outage-notices tbody tr")
    expect(notices).to_have_count(2)
    # Published 12 hours ahead: the label says how far ahead it really goes out.
    expect(notices.first).to_contain_text("提前通知（计划停电前")
    expect(notices.first).to_contain_text("等待发送")

    outage = Outage.objects.get()
    assert outage.status == OutageStatus.PUBLISHED
    # The every-minute beat task's work, done here so the test need not wait for it.
    assert services.fan_out_due() == 1
    page.reload()
    advance = page.locator("table.outage-notices tbody tr").first
    expect(advance).to_contain_text("已发出")
    # No service group reaches these customers: every one of them gets the SMS (reach policy).
    expect(advance.locator("td").nth(4)).to_have_text("3")
    page.screenshot(path=str(artifacts / "outage_published.png"), full_page=True)
    queued = Notification.objects.get(
        dedupe_key__startswith=f"outage:{outage.pk}:notice:advance-1d:", address="13985550000"
    )
    assert queued.status == Notification.Status.PENDING and queued.address == "13985550000"
