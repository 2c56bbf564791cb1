"""An answered inquiry settles the reminders about it: read for everyone who got them,
and what has not gone out yet never does."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from groups import health
from groups.models import GroupMessage
from groups.services.ingest import IngestItem, messages_ingest
from groups.services.messages import reply_post
from notifications.models import Notification
from notifications.services import notification_enqueue
from tests.groups.conftest import local
from tickets import services as ticket_services

ASKED = local(2026, 11, 20, 10, 0)  # owner reminded after 10:30, supervisors after 11:30
LATER = ASKED + timedelta(hours=2)


def about(message: GroupMessage):
    return Notification.objects.filter(dedupe_key__startswith=f"group-message:{message.pk}:")


@pytest.fixture
def reminded(ask, manager, supervisor, settings):
    """Two overdue inquiries: the owner reminded (in the app and on WeCom), the supervisor alerted."""
    settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID, settings.WECOM_AGENT_SECRET = "corp", "1000002", "secret"
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    with time_machine.travel(ASKED, tick=False):
        first, second = ask("请问今天为什么停电？"), ask("电费怎么这么高？")
    with time_machine.travel(LATER, tick=False):
        health.inquiry_reminder_scan()
    for inquiry in (first, second):
        channels = sorted(about(inquiry).values_list("channel", flat=True))
        assert channels == ["inapp", "inapp", "wecomapp"]
    return first, second


def assert_settled(inquiry):
    rows = about(inquiry)
    assert not rows.filter(channel=Notification.Channel.IN_APP, read_at__isnull=True).exists()
    assert rows.filter(channel=Notification.Channel.IN_APP).count() == 2  # kept, as read, in both inboxes
    assert rows.get(channel=Notification.Channel.WECOM_APP).status == Notification.Status.WITHDRAWN


def assert_untouched(inquiry):
    rows = about(inquiry)
    assert rows.filter(channel=Notification.Channel.IN_APP, read_at__isnull=True).count() == 2
    assert rows.get(channel=Notification.Channel.WECOM_APP).status == Notification.Status.PENDING


def test_a_reply_in_the_group_settles_the_reminders_of_that_inquiry_only(reminded, group, manager):
    first, second = reminded
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        reply = reply_post(group=group, by=manager, text="您好，已安排人员检查。", inquiry=first)
    assert reply.answered == [first.pk]
    assert_settled(first)
    assert_untouched(second)


def test_an_id_that_starts_like_another_is_not_settled_with_it(manager):
    for key in ("group-message:1:overdue:7", "group-message:12:overdue:7"):
        notification_enqueue(dedupe_key=key, subject="群内咨询超时未回复", recipient=manager)
    health.inquiry_notifications_settle(message_ids=[1])
    unread = Notification.objects.filter(read_at__isnull=True).values_list("dedupe_key", flat=True)
    assert list(unread) == ["group-message:12:overdue:7"]
    assert health.inquiry_notifications_settle(message_ids=[]) == 0


def test_an_ingested_reply_settles_the_reminders(reminded, group, manager, customer):
    first, second = reminded
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        outcome = messages_ingest(
            group=group,
            by=manager,
            items=[
                IngestItem(
                    index=0,
                    external_id="wecom-reply-1",
                    text="已处理，请查收短信。",
                    sent_at=LATER,
                    username=manager.username,
                    customer_number=customer.number,
                )
            ],
        )
    assert outcome[0].errors is None
    assert sorted(outcome[0].answered) == sorted([first.pk, second.pk])
    assert_settled(first)
    assert_settled(second)


def test_a_work_order_made_from_the_inquiry_settles_it_and_stops_further_reminders(
    reminded, manager, supervisor
):
    first, second = reminded
    Notification.objects.filter(pk__in=about(second)).delete()
    ticket_services.ticket_create_from_group_message(
        message=first, by=manager, kind="repair", category="outage"
    )
    assert_settled(first)
    # The order holds the matter now: no reminder about the inquiry any more.
    both = GroupMessage.objects.filter(pk__in=[first.pk, second.pk])
    both.update(owner_reminded=False, supervisors_alerted=False)
    with time_machine.travel(LATER + timedelta(hours=3), tick=False):
        result = health.inquiry_reminder_scan()
    assert (result.owner_reminders, result.supervisor_alerts) == (1, 1)  # the second inquiry only
    assert about(first).count() == 3


def test_a_refused_reply_settles_nothing(reminded, group, manager):
    first, _second = reminded
    with pytest.raises(ValidationError):
        reply_post(group=group, by=manager, text="   ", inquiry=first)
    assert_untouched(first)
    # The same reply with a text goes through: what failed was the empty text.
    reply_post(group=group, by=manager, text="您好。", inquiry=first)
    assert_settled(first)


def test_an_inquiry_answered_before_the_scan_gets_no_reminder(ask, group, manager):
    with time_machine.travel(ASKED, tick=False):
        inquiry = ask()
        reply_post(group=group, by=manager, text="您好，马上处理。", inquiry=inquiry)
    with time_machine.travel(LATER, tick=False):
        health.inquiry_reminder_scan()
    assert not about(inquiry).exists()


def test_a_row_already_being_sent_is_left_to_its_sender(reminded, group, manager):
    first, _second = reminded
    twin = about(first).get(channel=Notification.Channel.WECOM_APP)
    now = LATER + timedelta(minutes=5)
    Notification.objects.filter(pk=twin.pk).update(
        status=Notification.Status.SENDING, send_started_at=now, lease_expires_at=now + timedelta(minutes=5)
    )
    with time_machine.travel(now, tick=False):
        reply_post(group=group, by=manager, text="您好，已安排人员检查。", inquiry=first)
    twin.refresh_from_db()
    assert twin.status == Notification.Status.SENDING
    assert not about(first).filter(channel=Notification.Channel.IN_APP, read_at__isnull=True).exists()
