"""The SLA clock: which policy applies to an order and when its deadlines fall."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.selectors import supervisor_chain
from notifications.digests import ESCALATIONS, digest_entries_add
from notifications.models import Notification
from notifications.services import notifications_enqueue_many
from tickets.models import (
    UNSIGNED_STATUSES,
    Resolution,
    ReturnVisit,
    SlaPolicy,
    Status,
    Ticket,
    TicketEvent,
    Urgency,
)

# Used only when no active policy matches at all (an empty policy table).
FALLBACK = SlaPolicy(
    name="default", sign_minutes=60, resolve_minutes=24 * 60, warn_percent=80, return_visit_hours=24
)


def policy_for(*, kind: str, category: str, urgency: int, sensitive: bool) -> SlaPolicy:
    """The most specific active policy: an exact kind, category and urgency
    beat a wildcard, and a sensitive-only policy beats a general one for
    sensitive or VIP customers (they may get a stricter clock)."""
    candidates = SlaPolicy.objects.filter(
        Q(kind="") | Q(kind=kind),
        Q(category="") | Q(category=category),
        Q(urgency__isnull=True) | Q(urgency=urgency),
        is_active=True,
    )
    if not sensitive:
        candidates = candidates.filter(sensitive_only=False)

    def specificity(policy: SlaPolicy) -> tuple:
        return (
            policy.sensitive_only,
            policy.kind != "",
            policy.category != "",
            policy.urgency is not None,
            -policy.resolve_minutes,  # on a tie, the stricter one
        )

    return max(candidates, key=specificity, default=FALLBACK)


@dataclass(frozen=True)
class Clock:
    sign_warn_at: datetime
    sign_due_at: datetime
    resolve_warn_at: datetime
    resolve_due_at: datetime
    escalation_step: timedelta


def _warn_point(start: datetime, minutes: int, percent: int) -> datetime:
    return start + timedelta(minutes=minutes * percent / 100)


def sign_deadlines(policy: SlaPolicy, start: datetime) -> tuple[datetime, datetime]:
    return (
        _warn_point(start, policy.sign_minutes, policy.warn_percent),
        start + timedelta(minutes=policy.sign_minutes),
    )


def resolve_deadlines(policy: SlaPolicy, start: datetime) -> tuple[datetime, datetime]:
    return (
        _warn_point(start, policy.resolve_minutes, policy.warn_percent),
        start + timedelta(minutes=policy.resolve_minutes),
    )


def escalation_step(policy: SlaPolicy) -> timedelta:
    """How far apart an overdue order rises a level: the policy's own interval,
    or half its resolve time (at least an hour) when the policy names none."""
    if policy.escalation_minutes:
        return timedelta(minutes=policy.escalation_minutes)
    return max(timedelta(minutes=policy.resolve_minutes / 2), timedelta(hours=1))


def clock_for(policy: SlaPolicy, start: datetime) -> Clock:
    sign_warn, sign_due = sign_deadlines(policy, start)
    resolve_warn, resolve_due = resolve_deadlines(policy, start)
    return Clock(sign_warn, sign_due, resolve_warn, resolve_due, escalation_step(policy))


# --- the scan -------------------------------------------------------------------
#
# Every minute beat runs `sla_scan`. Each part selects the orders that crossed
# a point in time and have not been handled for it, locks them (skipping rows
# another scanner holds), flips a column so the same point is never decided
# twice, writes the timeline events and queues the notifications in bulk. The
# notifications' dedupe keys make a second decision harmless anyway. A scan
# costs a few statements per batch, whatever the number of orders.
#
# Two clocks run on an order, and each tells in order: its warning before its
# overdue alert. The sign clock (while unsigned): "工单待签收" at the warning
# point, "工单签收超时（N级）" at the deadline. The resolve clock: "工单即将超时"
# at the warning point, "工单已超时（N级）" at the deadline, at the first scan
# after it, whatever the sign clock did. One ladder runs at a time: the sign
# clock's until the order is signed or its resolve deadline passes, then the
# resolve clock's from that deadline, starting at the level the order reached
# (at least 1) and rising a level every escalation step of the policy. Level N
# alerts the assignee at once and the supervisors N-1 units up through their
# digest (SUPERVISOR_DIGEST_MINUTES), or at once for 特急 orders.

SCAN_BATCH = 1000


@dataclass
class ScanResult:
    sign_reminders: int = 0
    warnings: int = 0
    escalations: int = 0
    notifications: int = 0
    digest_entries: int = 0
    claimed: int = 0  # orders locked and handled in this batch

    def __iadd__(self, other: "ScanResult") -> "ScanResult":
        for name in (
            "sign_reminders",
            "warnings",
            "escalations",
            "notifications",
            "digest_entries",
            "claimed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


_SCAN_FIELDS = (
    "id",
    "number",
    "title",
    "status",
    "urgency",
    "assignee_id",
    "org_unit__path",
    "sla_round",
    "escalation_level",
    "sign_due_at",
    "resolve_due_at",
    "resolve_overdue_alerted",
    "next_escalation_at",
    "escalation_step",
    "version",
)


def _notification(row: dict, user_id: int, key: str, subject: str, body: str = "") -> dict:

    return {
        "recipient_id": user_id,
        "channel": Notification.Channel.IN_APP,
        "dedupe_key": f"ticket:{row['id']}:r{row['sla_round']}:{key}:{user_id}",
        "subject": subject,
        "body": body or row["title"],
        "link": f"/tickets/{row['number']}/",
    }


def _recipients(row: dict, chain) -> list[int]:
    """The assignee, or for an order nobody holds, the nearest supervisors."""
    if row["assignee_id"]:
        return [row["assignee_id"]]
    supervisors = chain(row["org_unit__path"])
    return supervisors[0] if supervisors else []


def _claim(queryset, limit: int) -> list[dict]:
    return list(queryset.select_for_update(skip_locked=True, of=("self",)).values(*_SCAN_FIELDS)[:limit])


def _remind_unsigned(now, chain, limit: int) -> ScanResult:

    with transaction.atomic():
        rows = _claim(
            Ticket.objects.filter(status__in=UNSIGNED_STATUSES, sign_reminded=False, sign_warn_at__lte=now),
            limit,
        )
        Ticket.objects.filter(id__in=[r["id"] for r in rows]).update(sign_reminded=True)
        # An order already past its signing deadline gets the overdue alert instead.
        reminded = [r for r in rows if r["sign_due_at"] is None or r["sign_due_at"] > now]
        drafts = [
            _notification(r, uid, "sign", _("工单待签收：%(number)s") % {"number": r["number"]})
            for r in reminded
            for uid in _recipients(r, chain)
        ]
        sent = notifications_enqueue_many(drafts, reminder=True)
    return ScanResult(sign_reminders=len(reminded), notifications=sent, claimed=len(rows))


def _warn_near_deadline(now, chain, limit: int) -> ScanResult:

    with transaction.atomic():
        rows = _claim(Ticket.objects.open().filter(resolve_warned=False, resolve_warn_at__lte=now), limit)
        Ticket.objects.filter(id__in=[r["id"] for r in rows]).update(resolve_warned=True)
        # An order already past its deadline gets the overdue alert instead.
        warned = [r for r in rows if r["resolve_due_at"] > now]
        drafts = [
            _notification(r, uid, "warn", _("工单即将超时：%(number)s") % {"number": r["number"]})
            for r in warned
            for uid in _recipients(r, chain)
        ]
        sent = notifications_enqueue_many(drafts, reminder=True)
    return ScanResult(warnings=len(warned), notifications=sent, claimed=len(rows))


@dataclass(frozen=True)
class Ladder:
    """Where an order's escalation stands after a scan at `now`."""

    level: int
    next_at: datetime | None
    resolve_alerted: bool
    clock: str  # "sign" or "resolve": the clock whose overdue alert is due, "" for none


def ladder_at(row: dict, now: datetime) -> Ladder:
    """The escalation an order reaches by `now` (a function of time, so scans that
    ran late or twice end at the same level; a jump is told once, at the level reached)."""
    level, next_at, resolve_alerted = (
        row["escalation_level"],
        row["next_escalation_at"],
        row["resolve_overdue_alerted"],
    )
    step, resolve_due = row["escalation_step"], row["resolve_due_at"]
    unsigned = row["status"] in UNSIGNED_STATUSES
    clock = ""
    if not resolve_alerted and not unsigned:
        next_at = None  # the sign clock stopped at signing; the resolve deadline is next
    if not resolve_alerted and resolve_due is not None and resolve_due <= now:
        # The sign clock's steps before the resolve deadline, then the resolve clock from it.
        if next_at is not None and next_at <= resolve_due:
            level += 1 + int((resolve_due - next_at) / step)
        level, next_at, resolve_alerted, clock = max(level, 1), resolve_due + step, True, "resolve"
    if next_at is not None and next_at <= now:
        steps = 1 + int((now - next_at) / step)
        level, next_at = level + steps, next_at + step * steps
        clock = "resolve" if resolve_alerted else "sign"
    return Ladder(level, next_at, resolve_alerted, clock)


def _steps(count: int) -> ExpressionWrapper:
    return ExpressionWrapper(F("escalation_step") * count, output_field=DurationField())


def _move(row: dict, ladder: Ladder) -> tuple:
    """The change of an order's columns as a few small numbers, so that orders that
    move alike share one UPDATE (see _move_columns)."""
    if ladder.resolve_alerted and not row["resolve_overdue_alerted"]:
        # The resolve clock took over: its ladder counts from the resolve deadline.
        return (
            "resolve",
            ladder.level,
            round((ladder.next_at - row["resolve_due_at"]) / row["escalation_step"]),
        )
    if ladder.next_at is None:
        return ("stopped",)
    return ("steps", ladder.level - row["escalation_level"])


def _move_columns(move: tuple) -> dict:
    if move[0] == "resolve":
        _kind, level, steps = move
        return {
            "escalation_level": level,
            "next_escalation_at": F("resolve_due_at") + _steps(steps),
            "resolve_overdue_alerted": True,
        }
    if move[0] == "stopped":
        return {"next_escalation_at": None}
    steps = move[1]
    return {
        "escalation_level": F("escalation_level") + steps,
        "next_escalation_at": F("next_escalation_at") + _steps(steps),
    }


def _escalate_overdue(now, chain, limit: int) -> ScanResult:
    """Overdue orders alert and rise in level with the time they are overdue
    (see the notes above). Level N alerts the assignee and the supervisors N-1
    units up (the unit's own at level 1)."""
    due = Q(next_escalation_at__lte=now) | Q(resolve_overdue_alerted=False, resolve_due_at__lte=now)
    with transaction.atomic():
        rows = _claim(Ticket.objects.open().filter(due), limit)
        drafts, entries, events, raised = [], [], [], []
        moves: dict[tuple, list[int]] = defaultdict(list)
        for r in rows:
            ladder = ladder_at(r, now)
            moves[_move(r, ladder)].append(r["id"])
            if ladder.level != r["escalation_level"]:
                raised.append(r["id"])
            if not ladder.clock:
                continue
            level = ladder.level
            if ladder.clock == "resolve":
                key = f"overdue:{level}"
                subject = _("工单已超时（%(level)s级）：%(number)s") % {"level": level, "number": r["number"]}
            else:
                key = f"sign-overdue:{level}"
                subject = _("工单签收超时（%(level)s级）：%(number)s") % {
                    "level": level,
                    "number": r["number"],
                }
            supervisors = chain(r["org_unit__path"])
            told = set(supervisors[min(level - 1, len(supervisors) - 1)] if supervisors else [])
            if r["assignee_id"]:
                drafts.append(_notification(r, r["assignee_id"], key, subject))
                told.discard(r["assignee_id"])
            for uid in sorted(told):
                alert = _notification(r, uid, key, subject)
                # 特急 orders reach supervisors at once; the rest wait for their digest.
                (drafts if r["urgency"] == Urgency.CRITICAL else entries).append(alert)
            events.append(
                TicketEvent(
                    ticket_id=r["id"],
                    action=TicketEvent.Action.ESCALATED,
                    note=subject,
                    changes={"level": level, "clock": ladder.clock},
                    created_at=now,
                )
            )
        # One UPDATE per distinct move (almost always one or two), whatever the number of orders.
        for move, ids in moves.items():
            Ticket.objects.filter(id__in=ids).update(version=F("version") + 1, **_move_columns(move))
        if raised:
            # The order's change history (变更记录) shows the level the scan raised, by 系统.
            Ticket.history.bulk_history_create(
                list(Ticket.objects.filter(id__in=raised)), update=True, default_date=now
            )
        TicketEvent.objects.bulk_create(events)
        sent = notifications_enqueue_many(drafts, reminder=True)
        digested = digest_entries_add(
            [
                {
                    "topic": ESCALATIONS,
                    "created_at": now,
                    **{k: d[k] for k in ("recipient_id", "dedupe_key", "subject", "link")},
                }
                for d in entries
            ]
        )
    return ScanResult(escalations=len(events), notifications=sent, digest_entries=digested, claimed=len(rows))


def sla_scan(*, now=None, batch: int = SCAN_BATCH, max_batches: int = 100) -> ScanResult:
    """One pass of the SLA clock over all open orders (see the notes above)."""
    now = now or timezone.now()
    chain = supervisor_chain()
    total = ScanResult()
    for step in (_remind_unsigned, _warn_near_deadline, _escalate_overdue):
        for _round in range(max_batches):
            result = step(now, chain, batch)
            total += result
            if result.claimed < batch:
                break
    return total


def return_visit_scan(*, now=None) -> dict[str, int]:
    """Remind the assignee of return visits due today, once each; alert the
    unit's supervisors of visits whose time has passed undone, once each."""
    now = now or timezone.now()
    end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=0)
    chain = supervisor_chain()
    pending = ReturnVisit.objects.filter(visited_at__isnull=True, ticket__status=Status.RESOLVED)
    fields = (
        "id",
        "due_at",
        "ticket__id",
        "ticket__number",
        "ticket__title",
        "ticket__assignee_id",
        "ticket__org_unit__path",
        "ticket__sla_round",
    )

    def as_row(visit: dict) -> dict:
        return {
            "id": visit["ticket__id"],
            "number": visit["ticket__number"],
            "title": visit["ticket__title"],
            "sla_round": visit["ticket__sla_round"],
            "assignee_id": visit["ticket__assignee_id"],
            "org_unit__path": visit["ticket__org_unit__path"],
        }

    with transaction.atomic():
        due = list(
            pending.filter(due_reminded=False, due_at__lte=end_of_today)
            .select_for_update(skip_locked=True, of=("self",))
            .values(*fields)[:SCAN_BATCH]
        )
        ReturnVisit.objects.filter(id__in=[v["id"] for v in due]).update(due_reminded=True)
        drafts = [
            _notification(
                as_row(v),
                uid,
                f"return-visit:{v['id']}",
                _("今日待回访：%(number)s") % {"number": v["ticket__number"]},
            )
            for v in due
            for uid in _recipients(as_row(v), chain)
        ]
        missed = list(
            pending.filter(missed_alerted=False, due_at__lt=now)
            .select_for_update(skip_locked=True, of=("self",))
            .values(*fields)[:SCAN_BATCH]
        )
        ReturnVisit.objects.filter(id__in=[v["id"] for v in missed]).update(missed_alerted=True)
        for v in missed:
            supervisors = chain(v["ticket__org_unit__path"])
            subject = _("回访已逾期：%(number)s") % {"number": v["ticket__number"]}
            drafts += [
                _notification(as_row(v), uid, f"return-visit-missed:{v['id']}", subject)
                for uid in (supervisors[0] if supervisors else [])
            ]
        sent = notifications_enqueue_many(drafts, reminder=True)
    return {"due": len(due), "missed": len(missed), "notifications": sent}


def promise_scan(*, now=None) -> dict[str, int]:
    """Service commitments (服务承诺): remind the assignee TICKET_PROMISE_REMIND_DAYS
    before the promised date, and alert the assignee and the unit's supervisors
    once the date has passed unkept; each exactly once per promise (a flag on the
    resolution, and the dedupe key names it). A kept or replaced promise is not
    open (Resolution.objects.open_promises) and is never reminded of."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    chain = supervisor_chain()
    fields = (
        "id",
        "commitment_due",
        "sla_round",
        "ticket__id",
        "ticket__number",
        "ticket__title",
        "ticket__assignee_id",
        "ticket__org_unit__path",
    )

    def as_row(promise: dict) -> dict:
        return {
            "id": promise["ticket__id"],
            "number": promise["ticket__number"],
            "title": promise["ticket__title"],
            "sla_round": promise["sla_round"],
            "assignee_id": promise["ticket__assignee_id"],
            "org_unit__path": promise["ticket__org_unit__path"],
        }

    def claim(queryset) -> list[dict]:
        return list(queryset.select_for_update(skip_locked=True, of=("self",)).values(*fields)[:SCAN_BATCH])

    pending = Resolution.objects.open_promises()
    with transaction.atomic():
        # A promise already past its date gets the alert only.
        soon = claim(
            pending.filter(
                promise_reminded=False,
                commitment_due__gte=today,
                commitment_due__lte=today + timedelta(days=settings.TICKET_PROMISE_REMIND_DAYS),
            )
        )
        Resolution.objects.filter(id__in=[p["id"] for p in soon]).update(promise_reminded=True)
        drafts = [
            _notification(
                as_row(p),
                uid,
                f"promise:{p['id']}",
                _("服务承诺即将到期（%(date)s）：%(number)s")
                % {"date": f"{p['commitment_due']:%Y-%m-%d}", "number": p["ticket__number"]},
            )
            for p in soon
            for uid in _recipients(as_row(p), chain)
        ]
        passed = claim(pending.filter(promise_alerted=False, commitment_due__lt=today))
        Resolution.objects.filter(id__in=[p["id"] for p in passed]).update(
            promise_alerted=True, promise_reminded=True
        )
        for p in passed:
            supervisors = chain(p["ticket__org_unit__path"])
            recipients = set(supervisors[0] if supervisors else [])
            if p["ticket__assignee_id"]:
                recipients.add(p["ticket__assignee_id"])
            subject = _("服务承诺已逾期（%(date)s）：%(number)s") % {
                "date": f"{p['commitment_due']:%Y-%m-%d}",
                "number": p["ticket__number"],
            }
            key = f"promise-missed:{p['id']}"
            drafts += [_notification(as_row(p), uid, key, subject) for uid in sorted(recipients)]
        sent = notifications_enqueue_many(drafts, reminder=True)
    return {"reminded": len(soon), "alerted": len(passed), "notifications": sent}
