"""Digests: the lines waiting for a recipient go out as one message per interval, exactly once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.digests import ESCALATIONS, digest_entries_add, digest_interval_start, digests_send
from notifications.models import DigestEntry, Notification
from notifications.tasks import send_digests

T0 = timezone.datetime(2026, 11, 20, 9, 0, tzinfo=timezone.get_current_timezone())


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def line(user, n: int, **extra) -> dict:
    return {
        "recipient_id": user.pk,
        "topic": ESCALATIONS,
        "dedupe_key": f"ticket:{n}:r1:overdue:1:{user.pk}",
        "subject": f"工单已超时（1级）：GD{n:04d}",
        "link": f"/tickets/GD{n:04d}/",
        **extra,
    }


def digests(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, dedupe_key__startswith="digest:").order_by("id"))


@pytest.fixture(autouse=True)
def fifteen_minutes(settings):
    settings.SUPERVISOR_DIGEST_MINUTES = 15


def test_intervals_are_counted_from_local_midnight():
    assert digest_interval_start(at(14.9)) == T0
    assert digest_interval_start(at(15)) == at(15)
    # 09:44 is 584 minutes after midnight: the interval of 40 minutes that started at 560 (09:20).
    assert digest_interval_start(at(44), minutes=40) == at(20)


def test_one_digest_per_interval_with_only_the_new_lines(supervisor):
    digest_entries_add([line(supervisor, 1), line(supervisor, 2)])

    first = digests_send(now=at(1))
    assert (first.sent, first.entries) == (1, 2)
    [message] = digests(supervisor)
    assert message.subject == "工单超时升级汇总（2 条）"
    assert "GD0001" in message.body and "GD0002" in message.body
    assert message.dedupe_key == f"digest:escalations:{supervisor.pk}:202611200900"

    # A second run within the interval: nothing new, nothing sent.
    assert digests_send(now=at(5)).sent == 0
    # A line arriving within the interval waits for the next one.
    digest_entries_add([line(supervisor, 3)])
    waiting = digests_send(now=at(10))
    assert (waiting.sent, waiting.waiting) == (0, 1)
    assert len(digests(supervisor)) == 1

    # The next interval: a new digest with only the new line.
    assert digests_send(now=at(16)).sent == 1
    second = digests(supervisor)[-1]
    assert second.subject == "工单超时升级汇总（1 条）"
    assert "GD0003" in second.body and "GD0001" not in second.body
    # And none when nothing is new.
    assert digests_send(now=at(31)).sent == 0
    assert digests_send(now=at(46)).sent == 0
    assert len(digests(supervisor)) == 2
    assert not DigestEntry.objects.filter(notification__isnull=True).exists()


def test_a_line_decided_twice_is_listed_once(supervisor):
    assert digest_entries_add([line(supervisor, 1), line(supervisor, 1)]) == 1
    assert digest_entries_add([line(supervisor, 1)]) == 0
    digests_send(now=at(1))
    assert digests(supervisor)[0].subject == "工单超时升级汇总（1 条）"


def test_each_recipient_gets_their_own_lines(supervisor, manager, outsider):
    digest_entries_add([line(supervisor, 1), line(manager, 2)])

    assert digests_send(now=at(1)).sent == 2

    assert "GD0001" in digests(supervisor)[0].body and "GD0002" not in digests(supervisor)[0].body
    assert "GD0002" in digests(manager)[0].body
    assert digests(outsider) == []


def test_a_long_digest_names_what_it_leaves_out_of_the_text(supervisor):
    digest_entries_add([line(supervisor, n) for n in range(40)])
    digests_send(now=at(1))
    [message] = digests(supervisor)
    assert message.subject == "工单超时升级汇总（40 条）"
    assert "另有 10 条" in message.body
    assert DigestEntry.objects.filter(notification=message).count() == 40


def test_an_unknown_topic_is_refused(supervisor):
    with pytest.raises(ValueError):
        digest_entries_add([line(supervisor, 1, topic="nonsense")])
    assert not DigestEntry.objects.exists()


def test_the_inbox_lists_a_digests_lines_with_links(login, supervisor, outsider):
    digest_entries_add([line(supervisor, 1), line(supervisor, 2)])
    digests_send()

    page = login(supervisor).get(reverse("notifications:inbox"))

    [group] = page.context["items"]
    assert [entry.subject for entry in group.digest_lines] == [
        "工单已超时（1级）：GD0001",
        "工单已超时（1级）：GD0002",
    ]
    html = page.content.decode()
    assert '<a href="/tickets/GD0001/">' in html and '<a href="/tickets/GD0002/">' in html
    assert login(outsider).get(reverse("notifications:inbox")).context["items"] == []


def test_the_beat_task_sends_and_reports(supervisor, settings):
    settings.SUPERVISOR_DIGEST_MINUTES = 1440  # the two runs cannot straddle an interval's end
    digest_entries_add([line(supervisor, 1)])
    assert send_digests() == {"sent": 1, "entries": 1, "waiting": 0}
    assert send_digests() == {"sent": 0, "entries": 0, "waiting": 0}


def test_the_admin_lists_lines_read_only(login, admin_user, supervisor):
    digest_entries_add([line(supervisor, 1)])
    client = login(admin_user)

    page = client.get(reverse("admin:notifications_digestentry_changelist"), {"q": "ticket:1:"})

    assert page.status_code == 200
    assert [e.dedupe_key for e in page.context["cl"].result_list] == [line(supervisor, 1)["dedupe_key"]]
    assert client.get(reverse("admin:notifications_digestentry_add")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_one_digest_per_recipient_and_list_each_line_once(supervisor, manager):
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    digest_entries_add([line(user, n) for n in range(40) for user in (supervisor, manager)])
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            digests_send(now=at(1))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for user in (supervisor, manager):
        [message] = digests(user)
        listed = DigestEntry.objects.filter(notification=message).count()
        waiting = DigestEntry.objects.filter(recipient=user, notification__isnull=True).count()
        assert listed + waiting == 40
        assert message.subject == f"工单超时升级汇总（{listed} 条）"
