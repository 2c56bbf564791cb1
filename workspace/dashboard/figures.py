"""The dashboard's figures, read by SQL aggregates.

Everything is computed by SQL aggregates (`aggregate`/`annotate` with
`filter=Q(...)`) over the work orders, return visits and service groups of the
supervisor's unit subtree (every unit for an administrator). The number of
queries is fixed, whatever the number of rows (QUERY_COUNT, locked in by the tests).

The 90th percentiles of the time to sign and to resolve are core.aggregates.Percentile,
in the same query as the means on either database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from core.aggregates import Percentile
from core.durations import format_duration
from groups.models import GroupMessage, ServiceGroup
from groups.selectors import health_window_start, zombie_exists_q
from tickets.models import (
    OPEN_STATUSES,
    Kind,
    Resolution,
    ReturnVisit,
    Status,
    Ticket,
    TicketEvent,
    near_deadline_q,
    overdue_q,
)
from tickets.satisfaction import channel_of, coverage_visits, satisfaction_visits, segment_of
from workspace.dashboard.access import in_scope, scope_unit_ids
from workspace.dashboard.periods import Period, midnight
from workspace.dashboard.presentation import (
    Dashboard,
    category_chart,
    chart_texts,
    figure_cards,
    groups_chart,
    overdue_by_unit_chart,
    per_day_chart,
    satisfaction_chart,
    satisfaction_summary,
    scope_label,
    tickets_link,
)

TABLE_LIMIT = 50
# Open orders 1; figures 4 (signed, resolved, urges, visits due); satisfaction 1
# (headline, breakdown, channels and both charts); charts 4 (new per day, which also
# gives the new and repeat figures; groups 3); overdue list 1; workload 2; urges 1;
# open service commitments 1. A supervisor whose scope is not in the shared cache yet
# pays one more, for its unit ids (accounts.scoping).
QUERY_COUNT = 15
PROMISE_LIMIT = 10


class Seconds(Func):
    """The length of an interval in seconds."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)")

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django's SQLite backend measures the difference of two datetimes in microseconds.
        return self.as_sql(compiler, connection, template="(%(expressions)s / 1000000.0)")


def _row_count(filter: Q | None = None) -> Count:
    """COUNT over rows naming no column: the id is in none of the dashboard's covering
    indexes, and COUNT(id) would send every row's read to the table."""
    return Count(Value(1), filter=filter)


def _signing(tickets: QuerySet[Ticket], period: Period) -> dict[str, float | int | None]:
    """Orders signed within the period: their number, and the mean and 90th percentile,
    in seconds, of the time from acceptance to signing. One pass over those orders only
    (ticket_dash_signed holds every column read: an index-only scan)."""
    to_sign = Seconds(ExpressionWrapper(F("signed_at") - F("created_at"), output_field=DurationField()))
    row = tickets.filter(signed_at__gte=period.start, signed_at__lt=period.end).aggregate(
        signed=_row_count(),
        sign_mean=Avg(to_sign),
        sign_p90=Percentile(to_sign, 0.9),
    )
    return _seconds(row)


def _resolving(tickets: QuerySet[Ticket], period: Period) -> dict[str, float | int | None]:
    """Orders resolved within the period: their number, how many within their resolving
    deadline (or without one), and the mean and 90th percentile, in seconds, of the time
    from acceptance to resolving. One pass over those orders only (ticket_dash_resolved)."""
    to_resolve = Seconds(ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField()))
    row = tickets.filter(resolved_at__gte=period.start, resolved_at__lt=period.end).aggregate(
        resolved=_row_count(),
        resolved_in_time=_row_count(
            filter=Q(resolve_due_at__isnull=True) | Q(resolved_at__lte=F("resolve_due_at"))
        ),
        resolve_mean=Avg(to_resolve),
        resolve_p90=Percentile(to_resolve, 0.9),
    )
    return _seconds(row)


def _seconds(row: dict[str, Any]) -> dict[str, float | int | None]:
    return {
        name: value if name in ("signed", "resolved", "resolved_in_time") or value is None else float(value)
        for name, value in row.items()
    }


@dataclass
class OpenOrders:
    """The open orders of the scope, counted once by unit, assignee and category:
    the current figures, two charts and the workload table all add up these
    rows instead of each reading the open orders again."""

    rows: list[dict]

    def total(self, key: str) -> int:
        return sum(row[key] for row in self.rows)

    def by(self, *keys: str, count: str = "n") -> dict[tuple, int]:
        sums: dict[tuple, int] = {}
        for row in self.rows:
            group = tuple(row[key] for key in keys)
            sums[group] = sums.get(group, 0) + row[count]
        return sums


def _open_orders(tickets: QuerySet[Ticket], now: datetime) -> OpenOrders:
    """Grouped by the keys of ticket_dash_open, in its order, and counting rows (not ids):
    an index-only scan streams the groups without a sort. The unit's name is carried
    along (one per unit) rather than grouped by, which would need the sort."""
    overdue = overdue_q(now)
    rows = (
        tickets.filter(status__in=OPEN_STATUSES)
        .values("org_unit", "assignee", "category")
        .annotate(
            unit_name=Max("org_unit__name"),
            n=_row_count(),
            overdue=_row_count(filter=overdue),
            near=_row_count(filter=near_deadline_q(now) & ~overdue),
            unsigned_new=_row_count(filter=Q(status=Status.NEW)),
            unsigned_dispatched=_row_count(filter=Q(status=Status.DISPATCHED)),
            unsigned_returned=_row_count(filter=Q(status=Status.RETURNED)),
        )
        .order_by()
    )
    return OpenOrders(list(rows))


def _period_counts(
    tickets: QuerySet[Ticket],
    visits: QuerySet[ReturnVisit],
    period: Period,
    current: OpenOrders,
    new_per_day: list[dict],
) -> dict[str, Any]:
    """Every count and duration the figures show: of the period, and of now.
    Each pass reads the orders of one date column within the period (new: the
    per-day rows; signed; resolved), never the others' nor the whole history."""
    counts: dict[str, Any] = {
        "new": sum(row["n"] for row in new_per_day),
        "repeat": sum(row["repeat"] for row in new_per_day),
    }
    urged = TicketEvent.objects.filter(
        ticket__in=tickets.values("pk"),
        action=TicketEvent.Action.URGED,
        created_at__gte=period.start,
        created_at__lt=period.end,
    ).aggregate(urged=Count("ticket", distinct=True), urges=Count("id"))
    # Orders, not visits, so that each figure's list shows exactly what it counts
    # (an order reopened and resolved again may have two visits due in a period).
    visit_counts = coverage_visits(visits, period.start, period.end).aggregate(
        scheduled=Count("id"),
        scheduled_done=Count("id", filter=Q(visited_at__isnull=False)),
        scheduled_pending=Count("id", filter=Q(visited_at__isnull=True)),
    )
    counts.update(urged, **visit_counts, **_signing(tickets, period), **_resolving(tickets, period))
    for key in ("n", "overdue", "near", "unsigned_new", "unsigned_dispatched", "unsigned_returned"):
        counts["open" if key == "n" else key] = current.total(key)
    return counts


def _new_per_day(tickets: QuerySet[Ticket], period: Period) -> list[dict]:
    """The period's new orders by day and kind, with the repeat ones among them: the
    chart's rows, and summed, the new and repeat figures (ticket_dash_created)."""
    return list(
        tickets.filter(created_at__gte=period.start, created_at__lt=period.end)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "kind")
        .annotate(n=_row_count(), repeat=_row_count(filter=Q(is_repeat=True)))
        .order_by()
    )


def _satisfaction(visits: QuerySet[ReturnVisit], period: Period) -> list[dict]:
    """The period's satisfaction (tickets.satisfaction: each order's latest return visit
    made within it), counted by segment, unit, result and channel in one query: the
    headline, its breakdown and both charts add up these rows."""
    return list(
        satisfaction_visits(visits, period.start, period.end)
        .annotate(segment=segment_of(), channel=channel_of())
        .values("segment", "ticket__org_unit", "ticket__org_unit__name", "result", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )


def _groups_by_station(units: list[int] | None, now: datetime) -> dict:
    """Per station: the share of the health window's decided inquiries answered
    in time, and the number of zombie groups. Counted from the inquiries and
    the groups separately, so the million messages of a prefecture are never
    joined to their groups as a whole (with_health() does that for a page)."""
    groups = ServiceGroup.objects.active().filter(in_scope(units, "org_unit"))
    stations: dict[str, dict[str, int]] = {
        row["org_unit__name"]: {"decided": 0, "in_time": 0, "zombies": 0}
        for row in groups.values("org_unit__name", "org_unit__path").distinct().order_by("org_unit__path")
    }
    recent = GroupMessage.objects.filter(
        group__in=groups, is_inquiry=True, sent_at__gte=health_window_start(now)
    )
    for row in (
        recent.values("group__org_unit__name")
        .annotate(
            decided=_row_count(filter=Q(answered_at__isnull=False) | Q(response_due_at__lte=now)),
            in_time=_row_count(filter=Q(answered_at__lte=F("response_due_at"))),
        )
        .order_by()
    ):
        entry = stations[row["group__org_unit__name"]]
        entry["decided"], entry["in_time"] = row["decided"], row["in_time"]
    for row in (
        groups.filter(zombie_exists_q(now)).values("org_unit__name").annotate(n=Count("id")).order_by()
    ):
        stations[row["org_unit__name"]]["zombies"] = row["n"]
    return groups_chart(stations)


def _overdue_rows(tickets: QuerySet[Ticket], now: datetime) -> list[dict]:
    overdue = tickets.filter(Q(status__in=OPEN_STATUSES) & overdue_q(now))
    rows = list(
        overdue.annotate(running_due=F("attention_due_at"))
        .order_by("running_due", "id")
        .values(
            "number",
            "title",
            "kind",
            "status",
            "running_due",
            "escalation_level",
            "urge_count",
            "org_unit__name",
            "assignee__real_name",
            "assignee__username",
        )[:TABLE_LIMIT]
    )
    for row in rows:
        row["kind_label"] = str(Kind(row["kind"]).label)
        row["status_label"] = str(Status(row["status"]).label)
        row["overdue_hours"] = round((now - row["running_due"]).total_seconds() / 3600, 1)
        row["overdue_text"] = format_duration(now - row["running_due"])
        row["assignee"] = row["assignee__real_name"] or row["assignee__username"] or ""
    return rows


def _open_promises(units: list[int] | None, today) -> tuple[list[dict], int, int]:
    """Open service commitments of the subtree, the earliest promised date first (at most
    PROMISE_LIMIT), with the total and the number past their date: one query (window counts)."""
    promises = Resolution.objects.open_promises().filter(in_scope(units, "ticket__org_unit"))
    rows = list(
        promises.annotate(
            total=Window(Count("id")),
            passed=Window(Count("id", filter=Q(commitment_due__lt=today))),
        )
        .order_by("commitment_due", "id")
        .values(
            "commitment",
            "commitment_due",
            "ticket__number",
            "ticket__title",
            "ticket__assignee__real_name",
            "total",
            "passed",
        )[:PROMISE_LIMIT]
    )
    for row in rows:
        row["is_overdue"] = row["commitment_due"] < today
    total, passed = (rows[0]["total"], rows[0]["passed"]) if rows else (0, 0)
    return rows, total, passed


def _workload(
    current: OpenOrders, visits: QuerySet[ReturnVisit], units: list[int] | None, now: datetime
) -> list[dict]:
    """Per account manager of the scope: open, overdue, near-deadline orders, return visits due."""
    today_end = midnight(timezone.localdate(now) + timedelta(days=1))
    counts: dict[int, dict[str, int]] = {}
    for row in current.rows:
        if row["assignee"] is not None:
            mine = counts.setdefault(row["assignee"], {"open": 0, "overdue": 0, "near": 0})
            mine["open"] += row["n"]
            mine["overdue"] += row["overdue"]
            mine["near"] += row["near"]
    due_visits = {
        row["ticket__assignee"]: row["n"]
        for row in visits.filter(
            visited_at__isnull=True, due_at__lt=today_end, ticket__assignee__isnull=False
        )
        .values("ticket__assignee")
        .annotate(n=Count("id"))
        .order_by()
    }
    people = User.objects.filter(is_active=True).filter(
        Q(role=User.Role.ACCOUNT_MANAGER) & in_scope(units, "org_unit")
        | Q(pk__in=list(counts) + list(due_visits))
    )
    rows = []
    for person in people.select_related("org_unit").order_by("org_unit__path", "real_name", "id"):
        row = counts.get(person.pk, {})
        rows.append(
            {
                "id": person.pk,
                "name": person.real_name or person.username,
                "unit": person.org_unit.name if person.org_unit_id else "",
                "open": row.get("open", 0),
                "overdue": row.get("overdue", 0),
                "near": row.get("near", 0),
                "visits_due": due_visits.get(person.pk, 0),
                "link": tickets_link(status="open", assignee=person.pk),
            }
        )
    rows.sort(key=lambda r: (-r["overdue"], -r["near"], -r["open"], r["name"]))
    return rows


def _urges(tickets: QuerySet[Ticket], period: Period) -> list[dict]:
    events = TicketEvent.objects.filter(
        ticket__in=tickets.values("pk"),
        action=TicketEvent.Action.URGED,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    return list(
        events.order_by("-created_at", "-id").values(
            "created_at",
            "note",
            "ticket__number",
            "ticket__title",
            "ticket__urge_count",
            "actor__real_name",
            "ticket__assignee__real_name",
        )[:TABLE_LIMIT]
    )


def compute_dashboard(*, user: User, period: Period, now: datetime | None = None) -> Dashboard:
    """All figures, series and tables, in QUERY_COUNT queries whatever the data."""
    now = now or timezone.now()
    # Scope first: every query below starts from the ids of the scope's units.
    units = scope_unit_ids(user)
    tickets = Ticket.objects.filter(in_scope(units, "org_unit"))
    visits = ReturnVisit.objects.filter(in_scope(units, "ticket__org_unit"))
    current = _open_orders(tickets, now)
    new_per_day = _new_per_day(tickets, period)
    counts = _period_counts(tickets, visits, period, current, new_per_day)
    satisfaction = satisfaction_summary(_satisfaction(visits, period), period)
    promise_rows, promises_total, promises_overdue = _open_promises(units, timezone.localdate(now))
    return Dashboard(
        period=period,
        computed_at=now,
        scope=scope_label(user),
        figures=figure_cards(counts, satisfaction, period),
        charts={
            "per_day": per_day_chart(new_per_day, period),
            "by_category": category_chart(current.by("category")),
            "overdue_by_unit": overdue_by_unit_chart(current.by("org_unit", "unit_name", count="overdue")),
            "satisfaction": satisfaction_chart(satisfaction),
            "groups": _groups_by_station(units, now),
            "texts": chart_texts(),
        },
        overdue_rows=_overdue_rows(tickets, now),
        overdue_total=counts["overdue"],
        workload=_workload(current, visits, units, now),
        urges=_urges(tickets, period),
        urges_total=counts["urges"],
        promise_rows=promise_rows,
        promises_total=promises_total,
        promises_overdue=promises_overdue,
    )
