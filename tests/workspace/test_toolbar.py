"""The chat toolbar page: WeCom sign-in (OAuth2 against the sandbox), what it shows beside a
group or an external contact, scoping, bad input, and a bounded number of queries."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.interactions.services import interaction_log
from customers.models import Interaction
from groups.models import GroupKind, Membership, ReplyCategory
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.services.messages import message_post
from groups.services.reply_templates import reply_template_create
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory, LineFactory
from tickets.services import ticket_create
from wecom import jssdk

TOOLBAR = "/wecom/toolbar/"


@pytest.fixture
def chat(org_tree, manager, outsider):
    """A WeCom-linked 台区群 of the manager with a sensitive customer, an ordinary one,
    and one customer of another county (a member the manager may not see)."""
    line = LineFactory(station=org_tree["station"])
    district = DistrictFactory(station=org_tree["station"], line=line, name="永乐一号台区")
    group = group_create(
        by=manager, name="永乐一号台区服务群", kind=GroupKind.DISTRICT, district=district, rules="文明发言。"
    )
    group.external_id = "wrOgQhDgAAcwMTB7YmDkbeBsgT_AAAAA"
    group.save(update_fields=["external_id"])
    vip = CustomerFactory(
        name="杨丽", station=org_tree["station"], district=district, line=line, manager=manager, vip_tier=1
    )
    plain = CustomerFactory(
        name="王强", station=org_tree["station"], district=district, line=line, manager=manager
    )
    foreign = CustomerFactory(name="外县客户", station=org_tree["other_station"], manager=outsider)
    contacts = {}
    for customer in (vip, plain):
        contact = ContactFactory(customer=customer)
        membership_add_contact(group=group, contact=contact, by=manager)
        contacts[customer.name] = contact
    # Customers join a WeCom group themselves: one from another county is in it too.
    Membership.objects.create(group=group, contact=ContactFactory(customer=foreign))
    contacts["杨丽"].wecom_external_userid = "wmYangLi0001"
    contacts["杨丽"].save(update_fields=["wecom_external_userid"])
    ticket, _ = ticket_create(
        customer=vip, opened_by=manager, kind="complaint", title="电压不稳", description="晚上电压低。"
    )
    message, _ = message_post(
        group=group, contact=contacts["王强"], text="请问明天几点恢复供电？", is_inquiry=True
    )
    interaction_log(
        customer=plain,
        staff=manager,
        channel=Interaction.Channel.PHONE,
        occurred_at=timezone.now(),
        summary="电话说明停电原因。",
    )
    reply_template_create(
        by=manager,
        title="停电解释",
        body="您好，因线路检修停电，预计18点恢复。",
        category=ReplyCategory.OUTAGE,
    )
    return {
        "group": group,
        "vip": vip,
        "plain": plain,
        "foreign": foreign,
        "ticket": ticket,
        "inquiry": message,
    }


def test_toolbar_beside_a_group_shows_what_the_manager_may_see(
    login, manager, chat, django_assert_max_num_queries
):
    client = login(manager)
    with django_assert_max_num_queries(16):
        response = client.get(TOOLBAR, {"chat_id": chat["group"].external_id})
    assert response.status_code == 200
    html = response.content.decode()
    assert "永乐一号台区服务群" in html
    assert "杨丽" in html and "王强" in html
    assert "需一对一联系" in html  # the VIP customer
    assert chat["ticket"].number in html
    assert "请问明天几点恢复供电？" in html
    assert "电话说明停电原因。" in html
    assert "您好，因线路检修停电，预计18点恢复。" in html and "data-copy-text" in html
    # A member from another county is neither named nor counted as a customer of this manager.
    assert "外县客户" not in html
    assert "另有 1 位客户不在您的管辖范围内" in html
    assert f"{reverse('tickets:create')}?customer={chat['plain'].number}" in html


def test_queries_do_not_grow_with_the_group(login, manager, chat, org_tree, django_assert_max_num_queries):
    for index in range(15):
        customer = CustomerFactory(station=org_tree["station"], manager=manager)
        membership_add_contact(group=chat["group"], contact=ContactFactory(customer=customer), by=manager)
        ticket_create(
            customer=customer, opened_by=manager, kind="complaint", title=f"单{index}", description="x"
        )
    client = login(manager)
    with django_assert_max_num_queries(16):
        assert client.get(TOOLBAR, {"chat_id": chat["group"].external_id}).status_code == 200


def test_toolbar_beside_an_external_contact(login, manager, chat):
    response = login(manager).get(TOOLBAR, {"external_userid": "wmYangLi0001"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "杨丽" in html and "需一对一联系" in html and "王强" not in html


@pytest.mark.parametrize(
    "query",
    [
        {"chat_id": "wr-unknown-chat"},
        {"external_userid": "wm-unknown"},
        {"chat_id": "x" * 65},
        {"chat_id": "群\x00"},
        {"external_userid": "wm\u202etext"},
    ],
)
def test_unknown_or_bad_ids_are_404(login, manager, chat, query):
    assert login(manager).get(TOOLBAR, query).status_code == 404


def test_out_of_scope_group_and_contact_are_404(login, outsider, chat):
    client = login(outsider)
    assert client.get(TOOLBAR, {"chat_id": chat["group"].external_id}).status_code == 404
    assert client.get(TOOLBAR, {"external_userid": "wmYangLi0001"}).status_code == 404


def test_without_wecom_an_anonymous_visitor_goes_to_the_login_page(client, db):
    response = client.get(TOOLBAR)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_wecom_sign_in_binds_the_member_to_their_user(client, manager, chat, wecom_sandbox, settings):
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    wanted = f"{TOOLBAR}?chat_id={chat['group'].external_id}"
    response = client.get(wanted)
    assert response.status_code == 302 and response["Location"].startswith(reverse("wecom_toolbar_signin"))
    response = client.get(response["Location"])
    authorize = urlsplit(response["Location"])
    assert response.status_code == 302
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == settings.WECOM_OAUTH_AUTHORIZE_URL
    query = parse_qs(authorize.query)
    assert query["appid"] == [settings.WECOM_CORP_ID] and query["agentid"] == [settings.WECOM_AGENT_ID]
    assert query["redirect_uri"] == [f"{settings.SITE_URL}{reverse('wecom_toolbar_oauth')}"]
    assert query["scope"] == ["snsapi_base"]
    # The member agrees in WeCom, which redirects back with a one-time code.
    code = requests.post(f"{wecom_sandbox.base_url}/sandbox/oauth/code", json={"userid": "zhangsan"}).json()[
        "code"
    ]
    response = client.get(reverse("wecom_toolbar_oauth"), {"code": code, "state": query["state"][0]})
    assert response.status_code == 302 and response["Location"] == wanted
    page = client.get(wanted)
    assert page.status_code == 200 and "杨丽" in page.content.decode()
    assert page.wsgi_request.user == manager


def test_wecom_sign_in_refuses_bad_state_used_codes_and_unbound_members(client, manager, db, wecom_sandbox):
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])

    def start():
        location = client.get(reverse("wecom_toolbar_signin"))["Location"]
        return parse_qs(urlsplit(location).query)["state"][0]

    def code_for(userid):
        return requests.post(f"{wecom_sandbox.base_url}/sandbox/oauth/code", json={"userid": userid}).json()[
            "code"
        ]

    oauth = reverse("wecom_toolbar_oauth")
    # No sign-in under way, or a state that is not this browser's.
    assert client.get(oauth, {"code": code_for("zhangsan"), "state": "forged"}).status_code == 400
    start()
    assert client.get(oauth, {"code": code_for("zhangsan"), "state": "forged"}).status_code == 400
    # A code WeCom does not know (or one already used).
    state = start()
    response = client.get(oauth, {"code": "not-a-code", "state": state})
    assert response.status_code == 403 and "企业微信登录失败" in response.content.decode()
    # A member no CRM user is bound to.
    state = start()
    response = client.get(oauth, {"code": code_for("nobody"), "state": state})
    assert response.status_code == 403 and "尚未绑定" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Nor an integration account (a system's, API only).
    manager.role = User.Role.INTEGRATION
    manager.save(update_fields=["role"])
    state = start()
    assert client.get(oauth, {"code": code_for("zhangsan"), "state": state}).status_code == 403
    manager.role = User.Role.ACCOUNT_MANAGER
    manager.save(update_fields=["role"])
    # An inactive user cannot come in through WeCom either.
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    state = start()
    assert client.get(oauth, {"code": code_for("zhangsan"), "state": state}).status_code == 403


def test_next_cannot_leave_the_site(client, db, wecom_sandbox):
    client.get(reverse("wecom_toolbar_signin"), {"next": "https://evil.example/"})
    assert client.session["wecom_oauth"]["next"] == TOOLBAR


def test_agent_config_signature_follows_wecom(login, manager, wecom_sandbox):
    response = login(manager).get(TOOLBAR)
    assert response.status_code == 200
    config = response.context["jssdk"]
    ticket = wecom_sandbox.state.agent_jsapi_ticket
    url = "http://testserver/wecom/toolbar/"
    plain = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={url}"
    assert config["signature"] == hashlib.sha1(plain.encode()).hexdigest()
    html = response.content.decode()
    assert 'id="wecom-agent-config"' in html and "jwxwork-1.0.0.js" in html
    assert "res.wx.qq.com" in response["Content-Security-Policy"]
    # The ticket is cached: a second page asks WeCom for nothing more.
    calls = len(requests.get(f"{wecom_sandbox.base_url}/sandbox/calls").json()["calls"])
    login(manager).get(TOOLBAR)
    assert len(requests.get(f"{wecom_sandbox.base_url}/sandbox/calls").json()["calls"]) == calls


def test_signature_ignores_the_fragment():
    assert (
        jssdk.signature(ticket="t", noncestr="n", timestamp=1, url="https://a/b?c=1#x")
        == hashlib.sha1(b"jsapi_ticket=t&noncestr=n&timestamp=1&url=https://a/b?c=1").hexdigest()
    )


def test_other_pages_keep_the_strict_script_policy(login, manager, db):
    response = login(manager).get(reverse("home"))
    assert "res.wx.qq.com" not in response["Content-Security-Policy"]
