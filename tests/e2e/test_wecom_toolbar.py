"""The chat toolbar at phone width: opened inside WeCom (OAuth2 through the sandbox, no
password), it shows the group's customers, the waiting inquiry, and copies a reply template."""

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from groups.models import GroupKind
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.services.messages import message_post
from groups.services.reply_templates import reply_template_create
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory


@pytest.fixture
def chat(transactional_db, org_tree, manager):
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    district = DistrictFactory(code="TQ-E2E-TB", name="永乐一号台区", station=org_tree["station"])
    group = group_create(
        by=manager, name="永乐一号台区服务群", kind=GroupKind.DISTRICT, district=district, rules="文明发言。"
    )
    group.external_id = "wrE2EToolbarChat"
    group.save(update_fields=["external_id"])
    vip = CustomerFactory(
        station=org_tree["station"], district=district, manager=manager, name="杨丽", vip_tier=1
    )
    contact = ContactFactory(customer=vip, name="杨丽")
    membership_add_contact(group=group, contact=contact, by=manager)
    message_post(
        group=group, contact=contact, text="请问明天几点恢复供电？", sent_at=timezone.now(), is_inquiry=True
    )
    reply_template_create(
        by=manager, title="停电解释", body="您好，线路检修，预计18点恢复。", category="outage"
    )
    return group


def test_toolbar_at_phone_width(browser, live_server, chat, wecom_sandbox, settings, artifacts):
    settings.SITE_URL = live_server.url
    settings.WECOM_OAUTH_AUTHORIZE_URL = f"{wecom_sandbox.base_url}/connect/oauth2/authorize"
    requests.post(f"{wecom_sandbox.base_url}/sandbox/oauth/member", json={"userid": "zhangsan"}, timeout=5)
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/wecom/toolbar/?chat_id={chat.external_id}")
        # Signed in through WeCom's OAuth2 page and back, without a password.
        expect(page.get_by_role("heading", name="永乐一号台区服务群")).to_be_visible()
        expect(page.get_by_text("需一对一联系")).to_be_visible()
        expect(page.get_by_text("请问明天几点恢复供电？")).to_be_visible()
        # Nothing wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_role("button", name="复制").click()
        expect(page.get_by_text("已复制，可在聊天中粘贴发送")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == "您好，线路检修，预计18点恢复。"
        page.screenshot(path=str(artifacts / "wecom-toolbar-390.png"), full_page=True)
    finally:
        context.close()
