"""The WeCom app-message channel (企业微信应用消息) and the routing rule of reminders."""

import pytest
import requests

from notifications.backends import WECOM_TEXTCARD_DESCRIPTION_BYTES, textcard_description
from notifications.models import Notification
from notifications.services import (
    NotificationDraft,
    notification_enqueue,
    notifications_deliver_due,
    notifications_enqueue_many,
    with_wecom_reminders,
)
from tests.factories import ContactFactory, CustomerFactory
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

pytestmark = pytest.mark.django_db


def received(sandbox) -> list[dict]:
    return requests.get(f"{sandbox.base_url}/sandbox/messages", timeout=5).json()["messages"]


@pytest.fixture
def on_wecom(manager, wecom_sandbox):
    """The manager has a WeCom account the sandbox knows."""
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    wecom_sandbox.state.add_staff("zhangsan", "张三")
    return manager


def app_message(user, **fields) -> Notification:
    return notification_enqueue(
        dedupe_key=fields.pop("dedupe_key", "ticket:1:warn"),
        subject=fields.pop("subject", "工单即将超时：GD0001"),
        body=fields.pop("body", "家中停电\n请尽快处理"),
        channel=Notification.Channel.WECOM_APP,
        recipient=user,
        link=fields.pop("link", "/tickets/GD0001/"),
    )


def test_an_app_message_reaches_the_users_wecom(on_wecom, wecom_sandbox, settings):
    settings.SITE_URL = "https://crm.example.cn"
    row = app_message(on_wecom)
    report = notifications_deliver_due()
    assert report.sent == 1
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    [message] = received(wecom_sandbox)
    assert message["touser"] == "zhangsan"
    card = message["textcard"]
    assert card["title"] == "工单即将超时：GD0001"
    assert card["url"] == "https://crm.example.cn/tickets/GD0001/"
    assert card["btntxt"] == "详情"
    assert card["description"] == '<div class="normal">家中停电</div><div class="normal">请尽快处理</div>'


def test_a_userid_wecom_does_not_know_fails_for_good(manager, wecom_sandbox):
    manager.wecom_userid = "left-the-company"
    manager.save(update_fields=["wecom_userid"])
    wecom_sandbox.state.add_staff("someone-else")
    row = app_message(manager)
    notifications_deliver_due()
    row.refresh_from_db()
    assert row.status == Notification.Status.FAILED
    assert row.last_error == "WeCom errcode 81013"
    assert "left-the-company" not in row.last_error


def test_a_user_without_userid_fails_for_good(manager, wecom_sandbox):
    row = app_message(manager)
    notifications_deliver_due()
    row.refresh_from_db()
    assert (row.status, row.last_error) == (Notification.Status.FAILED, "no WeCom userid")


def test_a_rate_limit_is_tried_again_later(on_wecom, wecom_sandbox):
    wecom_sandbox.state.add_fault(errcode=45009, count=10, path="message/send")
    row = app_message(on_wecom)
    notifications_deliver_due()
    row.refresh_from_db()
    assert row.status == Notification.Status.PENDING and row.attempts == 1
    assert "45009" in row.last_error
    assert received(wecom_sandbox) == []


def test_not_configured_is_skipped(on_wecom, settings):
    settings.WECOM_AGENT_SECRET = ""
    row = app_message(on_wecom)
    notifications_deliver_due()
    row.refresh_from_db()
    assert row.status == Notification.Status.SKIPPED
    assert "not configured" in row.last_error


def test_a_send_repeated_after_a_crash_reaches_the_user_once(on_wecom, wecom_sandbox):
    row = app_message(on_wecom)
    notifications_deliver_due()
    # The worker died before marking the row: it is sent again after its lease.
    Notification.objects.filter(pk=row.pk).update(status=Notification.Status.PENDING)
    notifications_deliver_due()
    assert len(received(wecom_sandbox)) == 1


def test_a_long_body_is_cut_to_wecoms_limit():
    row = Notification(subject="s", body="停电<通知>\n" + "很长的内容" * 200)
    description = textcard_description(row)
    assert len(description.encode()) <= WECOM_TEXTCARD_DESCRIPTION_BYTES
    assert description.startswith('<div class="normal">停电&lt;通知&gt;</div>')
    assert description.endswith("…</div>")


# --- the routing rule ----------------------------------------------------------------


def test_reminders_get_a_wecom_twin_for_users_with_a_userid(
    on_wecom, colleague, wecom_sandbox, django_assert_num_queries
):
    drafts = [
        NotificationDraft(dedupe_key="ticket:1:warn:a", subject="工单即将超时", recipient_id=on_wecom.pk),
        NotificationDraft(dedupe_key="ticket:1:warn:b", subject="工单即将超时", recipient_id=colleague.pk),
        NotificationDraft(
            dedupe_key="sms:1", subject="短信", channel=Notification.Channel.SMS, address="13800138000"
        ),
    ]
    with django_assert_num_queries(1):
        routed = with_wecom_reminders(drafts)
    twins = [row for row in routed if row["channel"] == Notification.Channel.WECOM_APP]
    assert [(row["recipient_id"], row["dedupe_key"]) for row in twins] == [
        (on_wecom.pk, "ticket:1:warn:a:wecomapp")
    ]
    assert notifications_enqueue_many(drafts, reminder=True) == 4
    # Deciding the same reminders again writes nothing.
    assert notifications_enqueue_many(drafts, reminder=True) == 0
    channels = set(Notification.objects.filter(recipient=on_wecom).values_list("channel", flat=True))
    assert channels == {Notification.Channel.IN_APP, Notification.Channel.WECOM_APP}
    assert set(Notification.objects.filter(recipient=colleague).values_list("channel", flat=True)) == {
        Notification.Channel.IN_APP
    }


def test_without_wecom_reminders_stay_as_they_were(on_wecom, settings, django_assert_num_queries):
    settings.WECOM_CORP_ID = ""
    drafts = [NotificationDraft(dedupe_key="k", subject="s", recipient_id=on_wecom.pk)]
    with django_assert_num_queries(0):
        assert [row["channel"] for row in with_wecom_reminders(drafts)] == [Notification.Channel.IN_APP]


def test_a_reminder_decided_again_gets_no_late_twin(on_wecom, wecom_sandbox, settings):
    drafts = [NotificationDraft(dedupe_key="ticket:1:warn", subject="s", recipient_id=on_wecom.pk)]
    settings.WECOM_CORP_ID = ""
    assert notifications_enqueue_many(drafts, reminder=True) == 1
    assert notification_enqueue(dedupe_key="ticket:1:urge:1", subject="s", recipient=on_wecom, reminder=True)
    settings.WECOM_CORP_ID = wecom_sandbox.state.corp_id
    assert notifications_enqueue_many(drafts, reminder=True) == 0
    assert (
        notification_enqueue(dedupe_key="ticket:1:urge:1", subject="s", recipient=on_wecom, reminder=True)
        is None
    )
    assert not Notification.objects.filter(channel=Notification.Channel.WECOM_APP).exists()


def test_messages_that_are_not_reminders_are_not_routed(on_wecom, wecom_sandbox):
    notifications_enqueue_many([NotificationDraft(dedupe_key="k", subject="s", recipient_id=on_wecom.pk)])
    assert not Notification.objects.filter(channel=Notification.Channel.WECOM_APP).exists()


def test_a_long_dedupe_key_still_gets_a_unique_twin(on_wecom, wecom_sandbox):
    key = "x" * 200
    [_main, twin] = with_wecom_reminders([{"dedupe_key": key, "subject": "s", "recipient_id": on_wecom.pk}])
    assert len(twin["dedupe_key"]) <= 200 and twin["dedupe_key"] != key


def test_an_urge_reaches_the_assignees_wecom(on_wecom, supervisor, org_tree, wecom_sandbox):
    seed_default_policies(SlaPolicy)
    customer = CustomerFactory(station=org_tree["station"], manager=on_wecom, name="杨丽")
    ContactFactory(customer=customer, is_primary=True)
    ticket, _created = ticket_services.ticket_create(
        customer=customer,
        opened_by=on_wecom,
        kind=Kind.REPAIR,
        title="家中停电",
        description="客户反映家中无电。",
        assignee=on_wecom,
    )
    ticket_services.ticket_urge(ticket=ticket, by=supervisor, note="请今天处理")
    twin = Notification.objects.get(
        recipient=on_wecom, channel=Notification.Channel.WECOM_APP, dedupe_key__contains="urge"
    )
    assert twin.subject.startswith("工单催办")
    notifications_deliver_due()
    assert [m["textcard"]["title"] for m in received(wecom_sandbox)] == [twin.subject]
