"""An account manager answers a customer's question in a service group, with a reply template."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from groups.models import GroupKind, GroupMessage, ReplyTemplate
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.services.messages import message_post
from groups.services.reply_templates import reply_template_create
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory


@pytest.fixture
def inquiry(transactional_db, org_tree, manager):
    district = DistrictFactory(code="TQ-E2E-1", name="永乐一号台区", station=org_tree["station"])
    customer = CustomerFactory(station=org_tree["station"], district=district, manager=manager, name="杨丽")
    contact = ContactFactory(customer=customer, name="杨丽", mobile="13885550123")
    group = group_create(
        by=manager,
        name="永乐一号台区服务群",
        kind=GroupKind.DISTRICT,
        district=district,
        rules="文明发言，用电问题@客户经理。",
    )
    membership_add_contact(group=group, contact=contact, by=manager)
    reply_template_create(
        by=manager,
        title="电费查询渠道",
        body="您好，电费可在南方电网微信公众号或95598查询，绑定户号后每月推送账单。",
        category="billing",
    )
    message, _created = message_post(
        group=group, contact=contact, text="请问这个月电费怎么查？", sent_at=timezone.now(), is_inquiry=True
    )
    return message


def test_a_manager_answers_a_group_inquiry_with_a_template(
    page, log_in, live_server, artifacts, manager, inquiry
):
    log_in(page, manager)
    page.goto(f"{live_server.url}/groups/{inquiry.group_id}/")
    log = page.locator(f"#message-{inquiry.pk}")
    assert "待回复" in log.inner_text()

    page.select_option("select[name=inquiry]", str(inquiry.pk))
    page.click("details.template-picker summary")
    page.fill("details.template-picker input[name=q]", "电费")
    page.click("#template-results button[data-template]")
    # A web-first assertion: wait_for_function(str) would need eval, which the CSP forbids.
    expect(page.locator("#reply-text")).to_have_value(re.compile("95598"))
    with page.expect_navigation():
        page.click("form.reply-form button[type=submit]")

    assert "已回复" in page.locator(f"#message-{inquiry.pk}").inner_text()
    page.screenshot(path=str(artifacts / "group_inquiry.png"), full_page=True)
    inquiry.refresh_from_db()
    assert inquiry.answered_at is not None
    reply = GroupMessage.objects.get(group=inquiry.group, sender_user=manager)
    assert "95598" in reply.text
    assert ReplyTemplate.objects.get().use_count == 1


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_older_messages_load_a_page_at_a_time(
    page, log_in, live_server, artifacts, manager, inquiry, viewport
):
    contact = inquiry.sender_contact
    start = timezone.now() - timedelta(days=1)
    for index in range(60):
        message_post(
            group=inquiry.group,
            contact=contact,
            text=f"第{index}条消息",
            sent_at=start + timedelta(minutes=index),
        )
    page.set_viewport_size(viewport)
    log_in(page, manager)
    page.goto(f"{live_server.url}/groups/{inquiry.group_id}/")
    log = page.locator("#group-messages .message-log > li")
    expect(log).to_have_count(50)
    assert "请问这个月电费怎么查" in log.first.inner_text()  # the waiting inquiry leads
    page.click("#group-messages .message-log-pages >> text=更早的消息")
    # The partial swaps the log in place: the eleven oldest messages, the oldest last.
    expect(log).to_have_count(11)
    expect(log.last).to_contain_text("第0条消息")
    page.screenshot(path=str(artifacts / "group_log_older_phone.png"), full_page=True)
    page.click("#group-messages .message-log-pages >> text=较新的消息")
    expect(log).to_have_count(50)
