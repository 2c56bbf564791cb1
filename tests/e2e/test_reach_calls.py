"""A supervisor publishes an outage over a district with a WeCom group and one without,
and sees every affected customer in the 触达情况 table; the district's account manager
then opens the phone-width call list and records 已告知 with one tap."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Customer
from outages import services
from outages.models import Outage
from reach.models import CallState, Channel, ReachRecord, State
from tests.factories import ContactFactory, CustomerFactory
from tests.outages.conftest import district_group, grid  # noqa: F401  (fixtures)

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def customer(district, name, *, mobile="", landline="", vip=False, contact=True) -> Customer:
    row = CustomerFactory(
        name=name,
        kind=Customer.Kind.RESIDENT,
        station=district.station,
        district=district,
        line=district.line,
        manager=district.manager,
        vip_tier=1 if vip else 0,
    )
    if contact:
        ContactFactory(customer=row, name=f"{name}户主", mobile=mobile, landline=landline, is_primary=True)
    return row


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_published_outage_adds_up_and_a_manager_records_a_call_from_the_phone(
    transactional_db,
    live_server,
    browser,
    log_in,
    artifacts,
    supervisor,
    manager,
    grid,  # noqa: F811
    district_group,  # noqa: F811
):
    with_group, without_group = grid["d1"], grid["d2"]
    for index in range(3):
        customer(with_group, f"永乐一组{index + 1}号", mobile=f"1398555100{index}")
    customer(with_group, "永乐酒店", mobile="13985551010", vip=True)
    customer(without_group, "永乐二组1号", mobile="13985552001")
    customer(without_group, "永乐二组2号", mobile="13985552002")
    landline_only = customer(without_group, "永乐二组3号", landline="0855-3331234")
    customer(without_group, "永乐卫生院", landline="0855-3335678", vip=True)
    customer(without_group, "永乐二组5号", contact=False)
    start = timezone.localtime() + timedelta(hours=12)

    # The supervisor at a desktop: registers the outage over both districts and publishes it.
    desk = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=DESKTOP)
    desk.set_default_timeout(15_000)
    page = desk.new_page()
    log_in(page, supervisor)
    page.goto(f"{live_server.url}/outages/new/")
    page.select_option("#id_kind", "planned")
    page.fill("#id_reason", "10kV永乐线检修")
    page.fill("#id_planned_start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_planned_end", (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.check(f"#district-{with_group.pk}")
    page.check(f"#district-{without_group.pk}")
    with page.expect_navigation():
        page.get_by_role("button", name="保存").click()
    expect(page.locator("main")).to_contain_text("影响 9 户，其中敏感客户 2 户")
    with page.expect_navigation():
        page.get_by_role("button", name="发布停电通知").click()
    expect(page.locator("main .alert-success")).to_contain_text("停电已发布")

    # The every-minute beat task's work, done here so the test need not wait for it.
    assert services.fan_out_due() == 1
    page.reload()
    figures = page.locator("table.reach-figures")
    expect(figures.locator(".reach-total")).to_have_text("9")
    expect(page.locator("main")).to_contain_text("受影响 9 户")
    counts = [int(text) for text in figures.locator("tbody td.text-end").all_inner_texts()]
    assert sum(counts) == 9, counts
    expect(figures.locator("tr[data-channel=group][data-state=waiting] td.text-end")).to_have_text("3")
    expect(figures.locator("tr[data-channel=sms][data-state=queued] td.text-end")).to_have_text("3")
    expect(figures.locator("tr[data-channel=call][data-state=waiting] td.text-end")).to_have_text("2")
    expect(figures.locator("tr[data-state=unreachable] td.text-end")).to_have_text("1")
    expect(page.locator("ul.reach-untold")).to_contain_text("档案中没有联系人：1")
    page.locator("#reach-title").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "reach_outage_figures_1366.png"), full_page=True)
    desk.close()

    # The district's account manager on a phone: the call list, tel: links, one tap.
    phone = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    phone.set_default_timeout(15_000)
    page = phone.new_page()
    log_in(page, manager)
    page.goto(f"{live_server.url}/reach/calls/")
    calls = page.locator("ul.reach-calls > li")
    expect(calls).to_have_count(2)
    record = ReachRecord.objects.get(customer=landline_only)
    assert (record.channel, record.call_state, record.call_assignee) == (
        Channel.CALL,
        CallState.PENDING,
        manager,
    )
    item = page.locator(f"li[data-call='{record.pk}']")
    expect(item).to_contain_text("永乐二组3号")
    expect(item.locator("a[href='tel:0855-3331234']")).to_be_visible()
    expect(page.locator("ul.reach-calls a[href='tel:0855-3335678']")).to_be_visible()
    assert no_horizontal_scroll(page), "the call list scrolls sideways at 390 px"
    # Finger-sized targets: the number and the three outcomes, side by side in equal thirds.
    tel = item.locator("a[href^='tel:']").bounding_box()
    assert tel["height"] >= 40 and tel["width"] >= 300, tel
    outcomes = [
        item.get_by_role("button", name=name).bounding_box() for name in ("已告知", "未接通", "号码错误")
    ]
    assert all(box["height"] >= 40 for box in outcomes), outcomes
    assert max(box["width"] for box in outcomes) - min(box["width"] for box in outcomes) < 2, outcomes
    page.screenshot(path=str(artifacts / "reach_calls_390.png"), full_page=True)

    with page.expect_navigation():
        item.get_by_role("button", name="已告知").tap()
    expect(page.locator("main .alert-success")).to_contain_text("永乐二组3号")
    expect(calls).to_have_count(1)
    expect(page.locator(f"li[data-call='{record.pk}']")).to_have_count(0)
    record.refresh_from_db()
    assert record.call_state == CallState.DONE and record.state == State.REACHED
    assert record.called_by == manager and record.called_at is not None
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / "reach_calls_390_recorded.png"), full_page=True)

    # The whole list, done calls included, says who called and when.
    page.goto(f"{live_server.url}/reach/calls/?all=1")
    done = page.locator(f"li[data-call='{record.pk}']")
    expect(done).to_contain_text("已告知")
    expect(done).to_contain_text(manager.real_name)
    phone.close()

    outage = Outage.objects.get()
    assert ReachRecord.objects.filter(notice__topic_key=f"outage:{outage.pk}").count() == 9
