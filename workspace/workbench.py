"""The account manager's workbench: what needs them now, one section at a time.

Each section is read by one function with a fixed number of queries (a count
aggregate and a bounded list, the list skipped when the count is nought), so the
page costs the same whatever the number of orders, visits, inquiries or
customers behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import User
from customers.models import Customer, Interaction, Visit
from groups.models import GroupMessage, ServiceGroup
from groups.selectors import zombie_reasons, zombies_of
from notifications.selectors import inbox_for
from outages.selectors import workbench_outages
from reach.models import CallState, ReachRecord
from tickets.models import (
    OPEN_STATUSES,
    UNSIGNED_STATUSES,
    Resolution,
    ReturnVisit,
    Ticket,
    near_deadline_q,
    overdue_q,
)
from tickets.selectors import deadline_of, with_attention_order

SECTION_LIMIT = 20


@dataclass
class Section:
    items: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def more(self) -> int:
        return max(self.counts.get("total", 0) - len(self.items), 0)


def my_orders_q(user: User) -> Q:
    """Orders the user handles: assigned to them, or unassigned in their unit."""
    return Q(assignee=user) | Q(assignee__isnull=True, org_unit_id=user.org_unit_id)


def my_orders(*, user: User, now: datetime | None = None) -> Section:
    """Open orders the user handles, overdue first, then near the deadline, then
    the most urgent and the deadline that falls first. Two queries."""
    now = now or timezone.now()
    open_orders = Ticket.objects.filter(my_orders_q(user), status__in=OPEN_STATUSES)
    counts = open_orders.aggregate(
        total=Count("id"),
        overdue=Count("id", filter=overdue_q(now)),
        near=Count("id", filter=near_deadline_q(now) & ~overdue_q(now)),
        unsigned=Count("id", filter=Q(status__in=UNSIGNED_STATUSES)),
    )
    rows = (
        list(with_attention_order(open_orders.select_related("customer"), now)[:SECTION_LIMIT])
        if counts["total"]
        else []
    )
    for ticket in rows:
        ticket.deadline = deadline_of(ticket, now)
        ticket.can_sign = ticket.status in UNSIGNED_STATUSES
    return Section(rows, counts)


def _day_end(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def my_schedule(*, user: User, now: datetime | None = None) -> tuple[Section, Section]:
    """The on-site visits (走访) the user has today or left undone — a district's long-outage
    visit included — the earliest first; and the customers whose 下次跟进 date has come with no
    contact logged since (on the user's customers, or contacts the user logged). Four queries."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    today_start = _day_end(today - timedelta(days=1))
    visits = Visit.objects.filter(staff=user, done_at__isnull=True, scheduled_at__lt=_day_end(today))
    visit_counts = visits.aggregate(
        total=Count("id"), overdue=Count("id", filter=Q(scheduled_at__lt=today_start))
    )
    visit_rows = (
        list(visits.select_related("customer", "district").order_by("scheduled_at", "id")[:SECTION_LIMIT])
        if visit_counts["total"]
        else []
    )
    for visit in visit_rows:
        visit.is_overdue = visit.scheduled_at < today_start
    since = Interaction.objects.filter(customer=OuterRef("customer"), occurred_at__gt=OuterRef("occurred_at"))
    follow_ups = Interaction.objects.filter(
        Q(customer__manager=user) | Q(staff=user), next_follow_up__lte=today
    ).exclude(Exists(since))
    follow_counts = follow_ups.aggregate(
        total=Count("id"), overdue=Count("id", filter=Q(next_follow_up__lt=today))
    )
    follow_rows = (
        list(follow_ups.select_related("customer").order_by("next_follow_up", "id")[:SECTION_LIMIT])
        if follow_counts["total"]
        else []
    )
    for interaction in follow_rows:
        interaction.is_overdue = interaction.next_follow_up < today
    return Section(visit_rows, visit_counts), Section(follow_rows, follow_counts)


def my_return_visits(*, user: User, now: datetime | None = None) -> Section:
    """Return visits not yet made on the user's orders, due today or already overdue."""
    now = now or timezone.now()
    due = ReturnVisit.objects.filter(
        ticket__assignee=user, visited_at__isnull=True, due_at__lt=_day_end(timezone.localdate(now))
    )
    counts = due.aggregate(total=Count("id"), overdue=Count("id", filter=Q(due_at__lte=now)))
    rows = (
        list(due.select_related("ticket", "ticket__customer").order_by("due_at", "id")[:SECTION_LIMIT])
        if counts["total"]
        else []
    )
    for visit in rows:
        visit.is_overdue = visit.due_at <= now
    return Section(rows, counts)


def my_promises(*, user: User, now: datetime | None = None) -> Section:
    """Open service commitments (服务承诺) on the orders the user holds, the earliest
    promised date first; a reopened order keeps its promise here. Two queries."""
    today = timezone.localdate(now or timezone.now())
    promises = Resolution.objects.open_promises().filter(ticket__assignee=user)
    counts = promises.aggregate(total=Count("id"), overdue=Count("id", filter=Q(commitment_due__lt=today)))
    rows = (
        list(
            promises.select_related("ticket", "ticket__customer").order_by("commitment_due", "id")[
                :SECTION_LIMIT
            ]
        )
        if counts["total"]
        else []
    )
    for promise in rows:
        promise.is_overdue = promise.commitment_due < today
    return Section(rows, counts)


def my_groups(*, user: User, now: datetime | None = None) -> tuple[Section, Section]:
    """Unanswered inquiries in the groups the user runs, the oldest deadline first,
    and the user's groups that count as zombie groups. Three queries."""
    now = now or timezone.now()
    waiting = GroupMessage.objects.unanswered().filter(group__owner=user, group__archived_at__isnull=True)
    counts = waiting.aggregate(total=Count("id"), overdue=Count("id", filter=Q(response_due_at__lte=now)))
    inquiries = (
        list(waiting.select_related("group").order_by("response_due_at", "id")[:SECTION_LIMIT])
        if counts["total"]
        else []
    )
    for message in inquiries:
        message.is_overdue = message.response_due_at is not None and message.response_due_at <= now
    zombies = list(zombies_of(ServiceGroup.objects.active().filter(owner=user), now).order_by("name", "id"))
    for group in zombies:
        group.zombie_reasons = zombie_reasons(group, now)
    return Section(inquiries, counts), Section(zombies, {"total": len(zombies)})


def my_stale_customers(*, user: User) -> int:
    return Customer.objects.filter(manager=user).stale().count()


def my_notifications(*, user: User) -> Section:
    inbox = inbox_for(user).unread()
    total = inbox.count()
    rows = list(inbox.order_by("-created_at", "-id")[:5]) if total else []
    return Section(rows, {"total": total})


def my_outages(*, user: User, now: datetime | None = None) -> Section:
    """Outages over the user's districts, ongoing or starting within a week. Two queries."""
    rows, total = workbench_outages(user, now or timezone.now())
    return Section(rows, {"total": total})


def my_calls(*, user: User) -> Section:
    """Customers the user must phone about a notice (reach call tasks), oldest first. Two queries."""
    pending = ReachRecord.objects.filter(call_assignee=user, call_state=CallState.PENDING)
    total = pending.count()
    rows = (
        list(pending.select_related("customer", "notice").order_by("created_at", "id")[:SECTION_LIMIT])
        if total
        else []
    )
    return Section(rows, {"total": total})
