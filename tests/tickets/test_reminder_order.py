"""Reminders in order, per clock: each clock's warning before its overdue alert, the resolve
deadline passing is an alert of its own at the next scan, levels rise by the policy's step,
and a supervisor's alerts wait for their digest unless the order is 特急."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from notifications.models import DigestEntry, Notification
from tests.factories import UserFactory
from tickets import services, sla
from tickets.models import SlaPolicy, Ticket, Urgency

T0 = timezone.datetime(2026, 11, 20, 9, 0, tzinfo=timezone.get_current_timezone())


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def subjects(user) -> list[str]:
    """What the user was told about orders, in the order it was decided."""
    rows = Notification.objects.filter(recipient=user, dedupe_key__startswith="ticket:").order_by("id")
    return [subject.split("：")[0] for subject in rows.values_list("subject", flat=True)]


@pytest.fixture
def repair(open_ticket):
    """Opened at T0: sign within 10 min (warn at 8), resolve within 240 (warn at 192), step 120."""
    ticket = open_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(
        created_at=T0,
        sign_warn_at=at(8),
        sign_due_at=at(10),
        resolve_warn_at=at(192),
        resolve_due_at=at(240),
        next_escalation_at=at(10),
        escalation_step=timedelta(minutes=120),
    )
    ticket.refresh_from_db()
    return ticket


def test_each_clock_warns_before_it_alerts_overdue_on_an_unsigned_order(repair, manager):
    """Found: an escalated order got "已超时（1级）" (the sign clock's) before "即将超时"."""
    for minute in range(0, 400, 1):
        sla.sla_scan(now=at(minute))

    told = subjects(manager)
    assert told == [
        "工单待签收",  # sign clock: warning (8)
        "工单签收超时（1级）",  # sign clock: overdue (10)
        "工单签收超时（2级）",  # sign clock: one step later (130)
        "工单即将超时",  # resolve clock: warning (192)
        "工单已超时（2级）",  # resolve clock: overdue at its deadline (240), at the level reached
        "工单已超时（3级）",  # resolve clock: one step later (360)
    ]
    # Per clock, the warning precedes every overdue alert of that clock.
    assert told.index("工单即将超时") < min(i for i, s in enumerate(told) if s.startswith("工单已超时"))
    assert told.index("工单待签收") < min(i for i, s in enumerate(told) if s.startswith("工单签收超时"))


def test_the_resolve_deadline_passing_alerts_at_the_first_scan_after_it(repair, manager, supervisor):
    """Found: an order signed late raised nothing new for an hour after its resolve deadline."""
    sla.sla_scan(now=at(11))  # the sign clock's level 1
    repair.refresh_from_db()
    services.ticket_sign(ticket=repair, by=manager)
    sla.sla_scan(now=at(200))
    before = subjects(manager)
    assert before[-1] == "工单即将超时"

    assert sla.sla_scan(now=at(239.9)).escalations == 0
    result = sla.sla_scan(now=at(240.5))

    assert result.escalations == 1
    assert subjects(manager)[len(before) :] == ["工单已超时（1级）"]
    assert DigestEntry.objects.filter(recipient=supervisor, dedupe_key__contains=":overdue:1:").count() == 1
    repair.refresh_from_db()
    assert (repair.escalation_level, repair.resolve_overdue_alerted) == (1, True)
    assert repair.next_escalation_at == at(360)
    event = repair.events.filter(action="escalated").latest("id")
    assert event.changes == {"level": 1, "clock": "resolve"}
    # Nothing more until the next step, whatever the number of scans.
    assert sla.sla_scan(now=at(300)).escalations == 0


def test_a_signed_order_is_not_escalated_by_its_stopped_sign_clock(repair, manager):
    sla.sla_scan(now=at(11))
    repair.refresh_from_db()
    services.ticket_sign(ticket=repair, by=manager)
    # The sign clock's next step (130) passes: the order is signed, nothing is said.
    assert sla.sla_scan(now=at(131)).escalations == 0
    repair.refresh_from_db()
    assert repair.escalation_level == 1


def test_levels_rise_by_the_step_the_policy_names(open_ticket, manager):
    SlaPolicy.objects.filter(kind="repair", urgency__isnull=True).update(escalation_minutes=30)
    ticket = open_ticket()
    assert ticket.escalation_step == timedelta(minutes=30)
    services.ticket_sign(ticket=ticket, by=manager)
    due = ticket.resolve_due_at

    sla.sla_scan(now=due + timedelta(minutes=1))
    sla.sla_scan(now=due + timedelta(minutes=31))
    sla.sla_scan(now=due + timedelta(minutes=61))

    ticket.refresh_from_db()
    assert ticket.escalation_level == 3
    assert [s for s in subjects(manager) if "超时（" in s] == [
        "工单已超时（1级）",
        "工单已超时（2级）",
        "工单已超时（3级）",
    ]


def test_without_a_policy_step_it_is_half_the_resolve_time_at_least_an_hour():
    policy = SlaPolicy(name="x", sign_minutes=10, resolve_minutes=90)
    assert sla.escalation_step(policy) == timedelta(hours=1)
    policy.resolve_minutes = 240
    assert sla.escalation_step(policy) == timedelta(minutes=120)


def test_supervisors_of_a_critical_order_are_told_at_once(open_ticket, manager, supervisor):
    ticket = open_ticket(urgency=Urgency.CRITICAL)
    services.ticket_sign(ticket=ticket, by=manager)

    sla.sla_scan(now=ticket.resolve_due_at + timedelta(minutes=1))

    assert Notification.objects.filter(
        recipient=supervisor, dedupe_key=f"ticket:{ticket.pk}:r1:overdue:1:{supervisor.pk}"
    ).exists()
    assert not DigestEntry.objects.exists()


def test_supervisors_of_an_ordinary_order_wait_for_their_digest(repair, manager, supervisor):
    sla.sla_scan(now=at(241))

    assert not Notification.objects.filter(recipient=supervisor).exists()
    entry = DigestEntry.objects.get(recipient=supervisor)
    assert entry.link == f"/tickets/{repair.number}/"
    assert entry.subject.startswith("工单已超时（2级）")


def test_a_supervisor_of_another_unit_gets_nothing(repair, manager, supervisor, org_tree):
    other = UserFactory(org_unit=org_tree["other_county"], role=User.Role.SUPERVISOR)
    same_order = Ticket.objects.filter(pk=repair.pk)
    for urgency in (Urgency.NORMAL, Urgency.CRITICAL):
        same_order.update(urgency=urgency)
        sla.sla_scan(now=at(241 + 120 * urgency))
    assert not Notification.objects.filter(recipient=other).exists()
    assert not DigestEntry.objects.filter(recipient=other).exists()
    assert DigestEntry.objects.filter(recipient=supervisor).exists()


def test_a_reopened_order_gets_a_fresh_resolve_alert(open_ticket, manager, supervisor):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    sla.sla_scan(now=ticket.resolve_due_at + timedelta(minutes=1))
    ticket.refresh_from_db()
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    services.ticket_reopen(ticket=ticket, by=supervisor, note="故障复发")
    ticket.refresh_from_db()
    assert (ticket.resolve_overdue_alerted, ticket.escalation_level, ticket.sla_round) == (False, 0, 2)

    sla.sla_scan(now=ticket.resolve_due_at + timedelta(minutes=1))

    assert Notification.objects.filter(
        recipient=manager, dedupe_key=f"ticket:{ticket.pk}:r2:overdue:1:{manager.pk}"
    ).exists()


def test_a_supervisor_gets_one_digest_per_interval_of_their_units_escalations(
    open_ticket, login, manager, supervisor, org_tree, settings
):
    from notifications.digests import digest_interval_start, digests_send

    settings.SUPERVISOR_DIGEST_MINUTES = 15
    other_supervisor = UserFactory(org_unit=org_tree["other_county"], role=User.Role.SUPERVISOR)
    first, second, later = (open_ticket() for _ in range(3))
    for ticket in (first, second, later):
        services.ticket_sign(ticket=ticket, by=manager)
    # The start of an interval after the first two deadlines: every step below falls in place.
    start = digest_interval_start(first.resolve_due_at) + timedelta(minutes=15)
    Ticket.objects.filter(pk=later.pk).update(resolve_due_at=start + timedelta(minutes=3))

    sla.sla_scan(now=start + timedelta(minutes=0.5))
    assert digests_send(now=start + timedelta(minutes=1)).sent == 1
    sla.sla_scan(now=start + timedelta(minutes=4))
    assert digests_send(now=start + timedelta(minutes=5)).sent == 0
    assert digests_send(now=start + timedelta(minutes=16)).sent == 1
    assert digests_send(now=start + timedelta(minutes=17)).sent == 0

    sent = list(Notification.objects.filter(recipient=supervisor).order_by("id"))
    assert [n.subject for n in sent] == ["工单超时升级汇总（2 条）", "工单超时升级汇总（1 条）"]
    assert first.number in sent[0].body and second.number in sent[0].body
    assert later.number in sent[1].body and first.number not in sent[1].body
    assert not Notification.objects.filter(recipient=other_supervisor).exists()

    page = login(supervisor).get("/notifications/")
    lines = [line.link for group in page.context["items"] for line in group.digest_lines]
    assert sorted(lines) == sorted(f"/tickets/{t.number}/" for t in (first, second, later))


def test_the_upgrade_marks_orders_already_escalated_past_their_resolve_deadline_as_told(open_ticket):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("tickets.migrations.0008_escalation_per_clock")
    past = timezone.now() - timedelta(minutes=1)
    escalated, quiet, later = open_ticket(), open_ticket(), open_ticket()
    Ticket.objects.filter(pk=escalated.pk).update(escalation_level=2, resolve_due_at=past)
    Ticket.objects.filter(pk=quiet.pk).update(resolve_due_at=past)
    Ticket.objects.filter(pk=later.pk).update(escalation_level=1)

    migration.mark_told(apps, None)

    told = dict(Ticket.objects.values_list("pk", "resolve_overdue_alerted"))
    assert told == {escalated.pk: True, quiet.pk: False, later.pk: False}
