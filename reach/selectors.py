"""Reads of reach: a notice's figures that add up, its customers, the call lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from core.phones import mask_phone
from reach.models import STATE_LABELS, CallState, Channel, ReachRecord, Reason, State

CALL_LIST_LIMIT = 200
DRILL_LIMIT = 500

# The figures of a notice in the order the page shows them: (channel, state).
ORDER = [
    (Channel.GROUP, State.REACHED),
    (Channel.GROUP, State.WAITING),
    (Channel.GROUP, State.FAILED),
    (Channel.SMS, State.REACHED),
    (Channel.SMS, State.SUBMITTED),
    (Channel.SMS, State.QUEUED),
    (Channel.SMS, State.FAILED),
    (Channel.WECOM, State.REACHED),
    (Channel.WECOM, State.WAITING),
    (Channel.WECOM, State.FAILED),
    (Channel.EMAIL, State.REACHED),
    (Channel.EMAIL, State.QUEUED),
    (Channel.EMAIL, State.FAILED),
    (Channel.CALL, State.REACHED),
    (Channel.CALL, State.WAITING),
    (Channel.CALL, State.FAILED),
]
_CALL_LABELS = {
    State.REACHED: CallState.DONE.label,
    State.WAITING: CallState.PENDING.label,
    State.FAILED: _("未接通或号码错误"),
}


@dataclass
class Figure:
    channel: str
    state: str
    label: str
    count: int
    told: bool


@dataclass
class Breakdown:
    """Every affected customer in exactly one figure: by channel and state, withdrawn,
    unreachable, or not decided yet (the notice has not reached them in the fan-out)."""

    affected: int
    figures: list[Figure] = field(default_factory=list)
    withdrawn: int = 0
    unreachable: int = 0
    undecided: int = 0
    told: int = 0
    extra_calls: dict[str, int] = field(default_factory=dict)
    untold_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(f.count for f in self.figures) + self.withdrawn + self.unreachable + self.undecided

    @property
    def untold(self) -> int:
        return self.affected - self.told


def notice_breakdown(*, notice_key: str, affected: int) -> Breakdown:
    """The figures of one notice; two queries."""
    records = ReachRecord.objects.filter(notice__key=notice_key)
    counts = {
        (row["channel"], row["state"]): row["n"]
        for row in records.order_by().values("channel", "state").annotate(n=Count("pk"))
    }
    breakdown = Breakdown(affected=affected)
    for channel, state in ORDER:
        count = counts.pop((channel, state), 0)
        if not count:
            continue
        if channel == Channel.CALL:
            label = f"{Channel(channel).label} · {_CALL_LABELS[state]}"
        else:
            label = f"{Channel(channel).label} · {STATE_LABELS.get((channel, state), State(state).label)}"
        breakdown.figures.append(Figure(channel, state, label, count, state == State.REACHED))
    for (_channel, state), count in counts.items():
        if state == State.CANCELLED:
            breakdown.withdrawn += count
        else:
            breakdown.unreachable += count
    aggregates = records.aggregate(
        total=Count("pk"),
        told=Count("pk", filter=ReachRecord.objects.told_q()),
        calls_pending=Count("pk", filter=Q(call_state=CallState.PENDING) & ~Q(channel=Channel.CALL)),
        calls_done=Count("pk", filter=Q(call_state=CallState.DONE) & ~Q(channel=Channel.CALL)),
    )
    breakdown.told = aggregates["told"]
    breakdown.undecided = max(affected - aggregates["total"], 0)
    breakdown.extra_calls = {"pending": aggregates["calls_pending"], "done": aggregates["calls_done"]}
    breakdown.untold_reasons = _untold_reasons(records)
    return breakdown


def _untold_reasons(records: QuerySet) -> list[tuple[str, int]]:
    rows = (
        records.exclude(ReachRecord.objects.told_q())
        .exclude(state__in=[State.WAITING, State.QUEUED, State.SUBMITTED])
        .order_by()
        .values("reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason")
    )
    return [(str(Reason(row["reason"]).label), row["n"]) for row in rows]


def notice_records(*, notice_key: str, channel: str = "", state: str = "", limit: int = DRILL_LIMIT):
    """The customers of one notice, filtered by channel and state; one query."""
    records = ReachRecord.objects.filter(notice__key=notice_key)
    if channel in Channel.values:
        records = records.filter(channel=channel)
    if state in State.values:
        records = records.filter(state=state)
    return records.select_related("customer", "contact", "call_assignee", "group").order_by(
        "customer__number"
    )[:limit]


def call_list(*, user, open_only: bool = True) -> list[ReachRecord]:
    """The user's phone-call tasks (pending first, oldest first); one query."""
    calls = ReachRecord.objects.calls_for(user)
    if open_only:
        calls = calls.filter(call_state=CallState.PENDING)
    rows = list(
        calls.select_related("customer", "contact", "notice", "call_assignee").order_by("created_at", "id")[
            :CALL_LIST_LIMIT
        ]
    )
    for row in rows:
        # The caller dials the number; whoever only oversees the list sees it masked.
        row.dialable = row.call_assignee_id == user.pk
        if row.contact is not None and not row.dialable:
            row.contact.mobile, row.contact.landline = (
                mask_phone(row.contact.mobile),
                mask_phone(row.contact.landline),
            )
    return rows


def pending_calls_count(*, user) -> int:
    return ReachRecord.objects.calls_for(user).filter(call_state=CallState.PENDING).count()


def customer_reach(*, customer, topic_prefix: str = "") -> list[ReachRecord]:
    """What one customer was told, newest first, optionally of one kind of matter; one query."""
    records = ReachRecord.objects.filter(customer=customer)
    if topic_prefix:
        records = records.filter(notice__topic_key__startswith=topic_prefix)
    return list(records.select_related("notice").order_by("-created_at", "-id")[:100])
