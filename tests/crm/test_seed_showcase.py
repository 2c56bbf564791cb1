"""The demo shows every part of the product on first start, the same for the same seed,
and queues no redundant work for the worker."""

from collections import Counter
from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from celery.app.task import Task
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from customers.models import Interaction, Visit
from groups.models import Broadcast, GroupMessage, ReplyTemplate
from notifications.models import Notification
from outages.models import Outage, OutageKind, OutageNotice, OutageStatus
from reach.models import CallState, ReachRecord
from tickets.models import Resolution, Ticket

pytestmark = pytest.mark.django_db

TZ = timezone.get_current_timezone()
# A weekday afternoon: this morning's visits are done, the afternoon's are still to come.
AT = timezone.datetime(2026, 11, 18, 15, 0, tzinfo=TZ)
CUSTOMERS, ORDERS = 200, 8


def seed_all(seed: int = 7) -> str:
    out = StringIO()
    call_command("seed_demo", customers=CUSTOMERS, seed=seed, stdout=out)
    call_command("seed_activity", orders=ORDERS, seed=seed, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded():
    with time_machine.travel(AT, tick=False):
        output = seed_all()
    return output


def test_every_part_of_the_product_has_something_to_show(seeded):
    manager = User.objects.get(username="manager")
    today = date(2026, 11, 18)
    assert "Traceback" not in seeded
    assert "Seeded 3 outages" in seeded

    outages = {(o.kind, o.status) for o in Outage.objects.all()}
    assert outages == {
        (OutageKind.PLANNED, OutageStatus.PUBLISHED),
        (OutageKind.FAULT, OutageStatus.ONGOING),
        (OutageKind.FAULT, OutageStatus.RESTORED),
    }
    planned = Outage.objects.get(kind=OutageKind.PLANNED)
    assert planned.planned_start > AT
    # Its notices wait for their time; the faults' went out through the fan-out.
    assert planned.notices.filter(fanned_out_at__isnull=True, due_at__gt=AT).count() >= 2
    restored = Outage.objects.get(status=OutageStatus.RESTORED)
    assert restored.actual_end < AT - timedelta(days=1)
    assert set(restored.notices.values_list("kind", flat=True)) == {OutageNotice.START, OutageNotice.RESTORED}
    assert not OutageNotice.objects.filter(due_at__lte=AT, fanned_out_at__isnull=True).exists()
    for outage in Outage.objects.exclude(kind=OutageKind.PLANNED):
        assert ReachRecord.objects.filter(notice__key__startswith="outage_notice:").exists()
        assert outage.notices.filter(fanned_out_at__isnull=False).exists()
    assert ReachRecord.objects.filter(call_state=CallState.PENDING).exists()
    # The fault on for five hours: the district's manager is sent on site.
    assert Visit.objects.filter(purpose=Visit.Purpose.OUTAGE, customer__isnull=True).exists()

    assert ReplyTemplate.objects.count() >= 6
    assert Interaction.objects.values("staff").distinct().count() >= 3
    assert Interaction.objects.filter(staff=manager, next_follow_up__lte=today).exists()
    assert Interaction.objects.filter(occurred_at__lt=AT - timedelta(days=7)).exists()

    todays = Visit.objects.filter(staff=manager, customer__isnull=False, scheduled_at__date=today)
    assert todays.filter(done_at__isnull=False).count() == 2
    assert todays.filter(done_at__isnull=True).count() == 2

    assert Broadcast.objects.filter(published_at__isnull=False).exists()
    assert Broadcast.objects.filter(published_at__isnull=True, scheduled_at__gt=AT).exists()
    promise = Resolution.objects.open_promises().get(ticket__assignee=manager)
    assert promise.commitment_due == today
    assert promise.resolved_at < AT - timedelta(days=2)


def test_no_reminder_of_an_answered_inquiry_stays_unread(seeded):
    reminders = Notification.objects.filter(dedupe_key__startswith="group-message:")
    assert reminders.exists()  # the waiting questions were reminded
    answered = set(GroupMessage.objects.filter(answered_at__isnull=False).values_list("pk", flat=True))
    assert answered
    unread = reminders.filter(read_at__isnull=True).values_list("dedupe_key", flat=True)
    assert unread
    assert not [key for key in unread if int(key.split(":")[1]) in answered]


def fingerprint() -> dict:
    def rows(queryset, *fields):
        return sorted(tuple(str(value) for value in row) for row in queryset.values_list(*fields))

    return {
        "tickets": rows(Ticket.objects, "number", "status", "customer__number", "created_at", "resolved_at"),
        "messages": rows(GroupMessage.objects, "group__name", "text", "sent_at", "answered_at"),
        "outages": rows(
            Outage.objects, "kind", "status", "reason", "actual_start", "actual_end", "planned_start"
        ),
        "notices": rows(OutageNotice.objects, "outage__reason", "kind", "due_at", "fanned_out_at"),
        "reach": rows(ReachRecord.objects, "customer__number", "channel", "state", "call_assignee__username"),
        "contacts": rows(
            Interaction.objects,
            "customer__number",
            "staff__username",
            "occurred_at",
            "summary",
            "next_follow_up",
        ),
        "visits": rows(
            Visit.objects, "customer__number", "district__code", "staff__username", "scheduled_at", "done_at"
        ),
        "broadcasts": rows(Broadcast.objects, "title", "published_at", "scheduled_at"),
        "templates": rows(ReplyTemplate.objects, "title", "org_unit__code", "created_by__username"),
        "promises": rows(Resolution.objects, "ticket__number", "commitment", "commitment_due"),
        "notifications": sorted(
            Counter(Notification.objects.values_list("channel", "status", "read_at")).items(), key=str
        ),
    }


class Discard(Exception):
    pass


def seeded_fingerprint(seed: int) -> dict:
    """Seed, read, and roll everything back, so that the next seeding starts from the same empty database."""
    try:
        with transaction.atomic(), time_machine.travel(AT, tick=False):
            seed_all(seed)
            found = fingerprint()
            raise Discard
    except Discard:
        pass
    return found


def test_the_same_seed_gives_the_same_demo_and_another_seed_another():
    first = seeded_fingerprint(7)
    assert first == seeded_fingerprint(7)
    other = seeded_fingerprint(8)
    assert other["contacts"] != first["contacts"]
    assert other["outages"] != first["outages"] or other["reach"] != first["reach"]


def test_if_empty_seeds_nothing_twice(seeded):
    before = fingerprint()
    out = StringIO()
    call_command("seed_demo", if_empty=True, stdout=out)
    call_command("seed_activity", if_empty=True, stdout=out)
    assert "nothing seeded" in out.getvalue()
    assert "no activity seeded" in out.getvalue()
    assert fingerprint() == before


def test_seeding_queues_one_kick_per_kind_not_one_per_row(
    monkeypatch, django_capture_on_commit_callbacks, real_kick
):
    """Kicks go through the real publishing path up to the broker's door; the message is counted there."""
    sent: list[str] = []

    def count(task, *args, **kwargs):
        sent.append(task.name)

    monkeypatch.setattr(Task, "apply_async", count)
    with time_machine.travel(AT, tick=False), django_capture_on_commit_callbacks(execute=True):
        seed_all()
    kinds = Counter(sent)
    # Dozens of outbox rows were written (reminders, notices, SMS, broadcast posts) ...
    assert Notification.objects.count() > 50
    # ... yet each kind of kick went to the broker once, after the commit.
    assert kinds["notifications.tasks.deliver_due_notifications"] == 1, kinds
    assert max(kinds.values()) == 1, kinds
    assert len(sent) <= 4, kinds
