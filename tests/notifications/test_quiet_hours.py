"""Quiet hours: an advance-notice SMS due at night waits for the morning; nothing else does."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_daily_window
from notifications.models import Notification
from notifications.quiet_hours import quiet_hours_end
from notifications.services import NotificationDraft, notification_enqueue, notifications_enqueue_many

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = (time(22, 0), time(7, 0))
LUNCH = (time(12, 0), time(13, 30))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def quiet_nights(settings):
    settings.SMS_QUIET_HOURS = NIGHT


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 3, 1, 21, 59), local(2026, 3, 1, 21, 59)),  # before the window
        (local(2026, 3, 1, 22, 0), local(2026, 3, 2, 7, 0)),  # its first minute
        (local(2026, 3, 1, 23, 30), local(2026, 3, 2, 7, 0)),  # before midnight: the next morning
        (local(2026, 3, 2, 2, 15), local(2026, 3, 2, 7, 0)),  # after midnight: the same morning
        (local(2026, 3, 2, 7, 0), local(2026, 3, 2, 7, 0)),  # the end is outside
        (local(2026, 2, 28, 23, 0), local(2026, 3, 1, 7, 0)),  # across a month's end
    ],
)
def test_a_moment_in_the_window_moves_to_its_end(moment, expected):
    assert quiet_hours_end(moment) == expected


def test_a_window_within_one_day_works_too():
    assert quiet_hours_end(local(2026, 3, 1, 12, 40), LUNCH) == local(2026, 3, 1, 13, 30)
    assert quiet_hours_end(local(2026, 3, 1, 11, 0), LUNCH) == local(2026, 3, 1, 11, 0)


def test_a_utc_moment_is_judged_in_the_sites_time_zone():
    # 15:00 UTC is 23:00 in Shanghai.
    moment = datetime(2026, 3, 1, 15, 0, tzinfo=ZoneInfo("UTC"))
    assert quiet_hours_end(moment) == local(2026, 3, 2, 7, 0)


def test_no_window_means_no_wait(settings):
    settings.SMS_QUIET_HOURS = None
    assert quiet_hours_end(local(2026, 3, 1, 23, 0)) == local(2026, 3, 1, 23, 0)


def test_a_quiet_sms_due_at_night_is_held_until_morning(org_tree):
    row = notification_enqueue(
        dedupe_key="outage:1:advance:c1",
        subject="停电预告",
        channel=Notification.Channel.SMS,
        address="13800000001",
        send_at=local(2026, 3, 1, 23, 10),
        template_kind="outage_advance",
        template_params={"date": "3月3日", "hours": 4},
        quiet=True,
    )

    row.refresh_from_db()
    assert row.next_attempt_at == local(2026, 3, 2, 7, 0)
    assert row.quiet is True
    assert row.template_kind == "outage_advance"
    assert row.template_params == {"date": "3月3日", "hours": "4"}


def test_fault_notices_and_other_channels_are_not_held(manager):
    night = local(2026, 3, 1, 23, 10)
    notifications_enqueue_many(
        [
            NotificationDraft(
                dedupe_key="outage:2:start:c1",
                subject="故障停电",
                channel=Notification.Channel.SMS,
                address="13800000001",
                send_at=night,
                template_kind="outage_start",
            ),
            NotificationDraft(
                dedupe_key="outage:1:advance:inapp",
                subject="停电预告",
                recipient_id=manager.pk,
                send_at=night,
                quiet=True,
            ),
            NotificationDraft(
                dedupe_key="outage:1:advance:c2",
                subject="停电预告",
                channel=Notification.Channel.SMS,
                address="13800000002",
                send_at=night,
                quiet=True,
            ),
        ]
    )

    due = dict(Notification.objects.values_list("dedupe_key", "next_attempt_at"))
    assert due == {
        "outage:2:start:c1": night,
        "outage:1:advance:inapp": night,
        "outage:1:advance:c2": local(2026, 3, 2, 7, 0),
    }


def test_an_unknown_kind_or_bad_params_are_refused_before_writing(org_tree):
    with pytest.raises(ValueError):
        notification_enqueue(
            dedupe_key="x:1", subject="s", channel="sms", address="13800000001", template_kind="nonsense"
        )
    with pytest.raises(ValueError):
        notification_enqueue(
            dedupe_key="x:2", subject="s", channel="sms", address="13800000001", template_params=["a"]
        )
    assert not Notification.objects.exists()


@pytest.mark.parametrize("raw", ["22:00", "25:00-07:00", "22:00-22:00", "ten-seven"])
def test_a_bad_window_stops_start_up(monkeypatch, raw):
    monkeypatch.setenv("SMS_QUIET_HOURS", raw)
    with pytest.raises(ImproperlyConfigured):
        env_daily_window("SMS_QUIET_HOURS")


def test_an_empty_window_is_none(monkeypatch):
    monkeypatch.setenv("SMS_QUIET_HOURS", "")
    assert env_daily_window("SMS_QUIET_HOURS", "22:00-07:00") is None
    monkeypatch.setenv("SMS_QUIET_HOURS", "22:30-06:45")
    assert env_daily_window("SMS_QUIET_HOURS") == (time(22, 30), time(6, 45))


def test_a_quiet_sms_that_fails_in_the_evening_retries_after_the_night(db, settings, monkeypatch):
    import time_machine

    from notifications import backends
    from notifications.delivery import TransientDeliveryError
    from notifications.services import notifications_deliver_due, notifications_retry_now

    class BusyProvider:
        def send(self, notification):
            raise TransientDeliveryError("Aliyun SMS isv.BUSINESS_LIMIT_CONTROL")

    monkeypatch.setitem(backends.SMS_BACKENDS, settings.SMS_PROVIDER, BusyProvider())
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 600
    with time_machine.travel(local(2026, 3, 1, 21, 55), tick=False):
        for key, quiet in (("advance", True), ("fault", False)):
            notification_enqueue(
                dedupe_key=key,
                subject="停电",
                channel=Notification.Channel.SMS,
                address="13800000001",
                quiet=quiet,
            )
        notifications_deliver_due()

        rows = {row.dedupe_key: row for row in Notification.objects.all()}
        assert rows["advance"].next_attempt_at == local(2026, 3, 2, 7, 0)
        assert rows["fault"].next_attempt_at < local(2026, 3, 1, 22, 15)

        # Retried by hand at night, the advance notice still waits for the morning.
        Notification.objects.update(status=Notification.Status.FAILED)
    with time_machine.travel(local(2026, 3, 1, 23, 0), tick=False):
        assert notifications_retry_now(notifications=Notification.objects.all()) == 2
        due = dict(Notification.objects.values_list("dedupe_key", "next_attempt_at"))
    assert due == {"advance": local(2026, 3, 2, 7, 0), "fault": local(2026, 3, 1, 23, 0)}
