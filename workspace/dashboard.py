"""The supervisor's dashboard: figures, chart series and tables over a period.

Everything is computed by SQL aggregates (`aggregate`/`annotate` with
`filter=Q(...)`) over the work orders, return visits and service groups of the
supervisor's unit subtree (every unit for an administrator). The number of
queries is fixed, whatever the number of rows (see QUERY_COUNT in the tests).

Percentiles: PostgreSQL computes the 90th percentile of the time to sign and to
resolve with ``percentile_cont(0.9) WITHIN GROUP (ORDER BY ...)``. SQLite has
no percentile function, so there the durations of the period's signed and
resolved orders are read by one ``values_list()`` query and the mean and the
90th percentile (linear interpolation, the same definition as
``percentile_cont``) are computed in Python. One query on either database.

The result is cached for DASHBOARD_CACHE_SECONDS under a key made of the
user's scope (their unit's path, or "all") and the period, and carries the
moment its figures were computed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from customers.models import Customer
from groups.models import GroupMessage, ServiceGroup
from groups.selectors import health_window_start, zombie_exists_q
from tickets.filters import HAPPY
from tickets.models import (
    OPEN_STATUSES,
    Category,
    Kind,
    ReturnVisit,
    Status,
    Ticket,
    TicketEvent,
    near_deadline_q,
    overdue_q,
)

# Figures older than this are recomputed by a worker; until the new ones are in,
# the page shows the older ones, kept for DASHBOARD_KEEP_SECONDS.
logger = logging.getLogger(__name__)

DASHBOARD_CACHE_SECONDS = 60
DASHBOARD_KEEP_SECONDS = 600
TABLE_LIMIT = 50
# Open orders 1; figures 4 (orders of the period, urges, visits, durations);
# charts 6 (per day, satisfaction 2, groups 3); overdue list 1; workload 2; urges 1.
QUERY_COUNT = 15
MAX_PERIOD_DAYS = 366

PERIODS = {
    "today": gettext_lazy("今日"),
    "7d": gettext_lazy("近7天"),
    "30d": gettext_lazy("近30天"),
    "custom": gettext_lazy("自定义"),
}


# --- Who sees what, over which period ------------------------------------------------


def can_view_dashboard(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_administrator or (user.is_supervisor and user.org_unit_id))
    )


def scope_path(user: User) -> str | None:
    """The path prefix of the units the user oversees; None for every unit."""
    return None if user.is_administrator else user.org_unit.path


def _in_scope(path: str | None, unit_field: str) -> Q:
    return Q(**{f"{unit_field}__path__startswith": path}) if path else Q()


@dataclass(frozen=True)
class Period:
    key: str
    start: datetime
    end: datetime
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        if self.key == "custom":
            return f"{self.first_day:%Y-%m-%d} — {self.last_day:%Y-%m-%d}"
        return str(PERIODS[self.key])

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]

    def query(self) -> str:
        if self.key == "custom":
            return f"period=custom&start={self.first_day:%Y-%m-%d}&end={self.last_day:%Y-%m-%d}"
        return f"period={self.key}"


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _parse_day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def period_from(params, now: datetime | None = None) -> tuple[Period, str]:
    """The period chosen in `params` (period, start, end) and an error message
    ("" when none); a bad choice falls back to the last 7 days."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    key = params.get("period") or "7d"
    error = ""
    if key == "custom":
        first, last = _parse_day(params.get("start")), _parse_day(params.get("end"))
        if first is None or last is None:
            error = _("请填写开始和结束日期。")
        elif first > last:
            error = _("开始日期不能晚于结束日期。")
        elif (last - first).days >= MAX_PERIOD_DAYS:
            error = _("统计期间最长一年。")
        else:
            return Period("custom", _midnight(first), _midnight(last + timedelta(days=1)), first, last), ""
        key = "7d"
    if key not in PERIODS:
        key = "7d"
    first = today - timedelta(days={"today": 0, "7d": 6, "30d": 29}[key])
    return Period(key, _midnight(first), _midnight(today + timedelta(days=1)), first, today), error


# --- Aggregates ------------------------------------------------------------------------


class Percentile(Aggregate):
    """percentile_cont(fraction) WITHIN GROUP (ORDER BY expression), PostgreSQL only."""

    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            raise NotImplementedError("Percentile needs PostgreSQL")
        clone = self.copy()
        clone.function = "PERCENTILE_CONT"
        clone.template = f"%(function)s({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        return super(Percentile, clone).as_sql(compiler, connection, **extra_context)


class EpochSeconds(Func):
    """The length of an interval in seconds (PostgreSQL)."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as percentile_cont does."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _duration_stats(tickets: QuerySet[Ticket], period: Period) -> dict[str, float | None]:
    """Mean and 90th percentile, in hours, of the time from acceptance to signing
    (orders signed within the period) and to resolving (resolved within it)."""
    signed = Q(signed_at__gte=period.start, signed_at__lt=period.end)
    resolved = Q(resolved_at__gte=period.start, resolved_at__lt=period.end)
    tickets = tickets.filter(signed | resolved)
    if connection.vendor == "postgresql":
        to_sign = EpochSeconds(
            ExpressionWrapper(F("signed_at") - F("created_at"), output_field=DurationField())
        )
        to_resolve = EpochSeconds(
            ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())
        )
        row = tickets.aggregate(
            sign_mean=Avg(to_sign, filter=signed),
            sign_p90=Percentile(to_sign, 0.9, filter=signed),
            resolve_mean=Avg(to_resolve, filter=resolved),
            resolve_p90=Percentile(to_resolve, 0.9, filter=resolved),
        )
    else:
        sign_seconds, resolve_seconds = [], []
        for created, signed_at, resolved_at in tickets.values_list("created_at", "signed_at", "resolved_at"):
            if signed_at and period.start <= signed_at < period.end:
                sign_seconds.append((signed_at - created).total_seconds())
            if resolved_at and period.start <= resolved_at < period.end:
                resolve_seconds.append((resolved_at - created).total_seconds())
        row = {
            "sign_mean": sum(sign_seconds) / len(sign_seconds) if sign_seconds else None,
            "sign_p90": percentile(sign_seconds, 0.9),
            "resolve_mean": sum(resolve_seconds) / len(resolve_seconds) if resolve_seconds else None,
            "resolve_p90": percentile(resolve_seconds, 0.9),
        }
    return {name: None if value is None else round(float(value) / 3600, 1) for name, value in row.items()}


# --- The dashboard ---------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    label: str
    value: Any
    unit: str = ""
    link: str = ""
    note: str = ""
    parts: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass
class Dashboard:
    period: Period
    computed_at: datetime
    figures: list[Figure]
    charts: dict[str, Any]
    overdue_rows: list[dict]
    overdue_total: int
    workload: list[dict]
    urges: list[dict]
    urges_total: int

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


TICKETS_URL = "/tickets/"


def _link(**params: Any) -> str:
    query = "&".join(f"{name}={value}" for name, value in params.items() if value not in (None, ""))
    return f"{TICKETS_URL}?{query}" if query else TICKETS_URL


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
    overdue = overdue_q(now)
    rows = (
        tickets.filter(status__in=OPEN_STATUSES)
        .values("org_unit", "org_unit__name", "assignee", "category")
        .annotate(
            n=Count("id"),
            overdue=Count("id", filter=overdue),
            near=Count("id", filter=near_deadline_q(now) & ~overdue),
            unsigned_new=Count("id", filter=Q(status=Status.NEW)),
            unsigned_dispatched=Count("id", filter=Q(status=Status.DISPATCHED)),
            unsigned_returned=Count("id", filter=Q(status=Status.RETURNED)),
        )
        .order_by()
    )
    return OpenOrders(list(rows))


def _figures(
    tickets: QuerySet[Ticket], visits: QuerySet[ReturnVisit], period: Period, current: OpenOrders
) -> tuple[list[Figure], dict[str, int]]:
    in_period = Q(created_at__gte=period.start, created_at__lt=period.end)
    resolved = Q(resolved_at__gte=period.start, resolved_at__lt=period.end)
    # Only orders of the period: the WHERE keeps the aggregate to those rows
    # (indexed) instead of the whole history.
    counts = tickets.filter(in_period | resolved).aggregate(
        new=Count("id", filter=in_period),
        resolved=Count("id", filter=resolved),
        resolved_in_time=Count(
            "id", filter=resolved & (Q(resolve_due_at__isnull=True) | Q(resolved_at__lte=F("resolve_due_at")))
        ),
        repeat=Count("id", filter=in_period & Q(is_repeat=True)),
    )
    urged = TicketEvent.objects.filter(
        ticket__in=tickets.values("pk"),
        action=TicketEvent.Action.URGED,
        created_at__gte=period.start,
        created_at__lt=period.end,
    ).aggregate(orders=Count("ticket", distinct=True), urges=Count("id"))
    # Orders, not visits, so that each figure's list shows exactly what it counts
    # (an order reopened and resolved again may have two visits in a period).
    visit_due = Q(due_at__gte=period.start, due_at__lt=period.end)
    visited = Q(visited_at__gte=period.start, visited_at__lt=period.end)
    visit_counts = visits.filter(visit_due | visited).aggregate(
        scheduled=Count("ticket", distinct=True, filter=visit_due),
        scheduled_done=Count("ticket", distinct=True, filter=visit_due & Q(visited_at__isnull=False)),
        scheduled_pending=Count("ticket", distinct=True, filter=visit_due & Q(visited_at__isnull=True)),
        visited=Count("ticket", distinct=True, filter=visited),
        satisfied=Count("ticket", distinct=True, filter=visited & Q(result__in=SATISFIED)),
        dissatisfied=Count(
            "ticket", distinct=True, filter=visited & Q(result=ReturnVisit.Result.DISSATISFIED)
        ),
    )
    durations = _duration_stats(tickets, period)
    for key in ("n", "overdue", "near", "unsigned_new", "unsigned_dispatched", "unsigned_returned"):
        counts["open" if key == "n" else key] = current.total(key)
    unsigned = counts["unsigned_new"] + counts["unsigned_dispatched"] + counts["unsigned_returned"]
    hours = _("小时")
    days = {"first": f"{period.first_day:%Y-%m-%d}", "last": f"{period.last_day:%Y-%m-%d}"}
    created_link = {"created_after": days["first"], "created_before": days["last"]}
    resolved_link = {"resolved_after": days["first"], "resolved_before": days["last"]}
    visit_due_link = {"visit_due_after": days["first"], "visit_due_before": days["last"]}
    visited_link = {"visited_after": days["first"], "visited_before": days["last"]}
    totals = {"overdue": counts["overdue"], "urges": urged["urges"]}
    figures = [
        Figure("new", _("新增工单"), counts["new"], link=_link(**created_link), note=_("期间内受理")),
        Figure("open", _("未办结"), counts["open"], link=_link(status="open"), note=_("当前")),
        Figure("overdue", _("已超时"), counts["overdue"], link=_link(deadline="overdue"), note=_("当前")),
        Figure("near", _("即将超时"), counts["near"], link=_link(deadline="near"), note=_("当前")),
        Figure(
            "unsigned",
            _("未签收"),
            unsigned,
            link=_link(status=Status.DISPATCHED),
            note=_("当前"),
            parts=[
                (str(status.label), counts[f"unsigned_{status.value}"], _link(status=status))
                for status in (Status.NEW, Status.DISPATCHED, Status.RETURNED)
            ],
        ),
        Figure(
            "sla",
            _("按时办结率"),
            _rate(counts["resolved_in_time"], counts["resolved"]),
            "%",
            _link(**resolved_link),
            _("期间内办结 %(n)s 件，按时 %(m)s 件")
            % {"n": counts["resolved"], "m": counts["resolved_in_time"]},
        ),
        Figure("sign_mean", _("平均签收用时"), durations["sign_mean"], hours, _link(status="closed")),
        Figure("sign_p90", _("签收用时90分位"), durations["sign_p90"], hours, _link(status="closed")),
        Figure("resolve_mean", _("平均办结用时"), durations["resolve_mean"], hours, _link(**resolved_link)),
        Figure("resolve_p90", _("办结用时90分位"), durations["resolve_p90"], hours, _link(**resolved_link)),
        Figure(
            "urged",
            _("被催办工单"),
            urged["orders"],
            link=_link(urged=1, urged_after=days["first"], urged_before=days["last"]),
            note=_("期间内催办 %(n)s 次") % {"n": urged["urges"]},
        ),
        Figure(
            "repeat",
            _("重复投诉"),
            counts["repeat"],
            link=_link(repeat=1, **created_link),
            note=_("期间内受理"),
        ),
        Figure(
            "coverage",
            _("回访覆盖率"),
            _rate(visit_counts["scheduled_done"], visit_counts["scheduled"]),
            "%",
            _link(**visit_due_link),
            _("期间内应回访 %(n)s 件，已回访 %(m)s 件")
            % {"n": visit_counts["scheduled"], "m": visit_counts["scheduled_done"]},
            parts=[
                (_("已回访"), visit_counts["scheduled_done"], _link(visited="yes", **visit_due_link)),
                (_("未回访"), visit_counts["scheduled_pending"], _link(visited="no", **visit_due_link)),
            ],
        ),
        Figure(
            "satisfaction",
            _("满意率"),
            _rate(visit_counts["satisfied"], visit_counts["visited"]),
            "%",
            _link(**visited_link),
            _("（满意+基本满意）/已回访：%(m)s/%(n)s")
            % {"m": visit_counts["satisfied"], "n": visit_counts["visited"]},
            parts=[
                (_("满意或基本满意"), visit_counts["satisfied"], _link(satisfaction=HAPPY, **visited_link)),
                (
                    str(ReturnVisit.Result.DISSATISFIED.label),
                    visit_counts["dissatisfied"],
                    _link(satisfaction=ReturnVisit.Result.DISSATISFIED, **visited_link),
                ),
            ],
        ),
    ]
    return figures, totals


def _orders_per_day(tickets, period: Period) -> dict:
    rows = (
        tickets.filter(created_at__gte=period.start, created_at__lt=period.end)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    days = period.days()
    index = {day: i for i, day in enumerate(days)}
    series = {kind: [0] * len(days) for kind in Kind.values}
    for row in rows:
        day = row["day"]
        if isinstance(day, datetime):
            day = day.date()
        if day in index:
            series[row["kind"]][index[day]] += row["n"]
    return {
        "labels": [f"{day:%m-%d}" for day in days],
        "datasets": [
            {"label": str(Kind(kind).label), "data": data, "kind": kind}
            for kind, data in series.items()
            if any(data)
        ],
    }


def _open_by_category(current: OpenOrders) -> dict:
    rows = sorted(current.by("category").items(), key=lambda item: -item[1])
    return {
        "labels": [str(Category(category).label) for (category,), _n in rows],
        "data": [n for _key, n in rows],
        "links": [_link(status="open", category=category) for (category,), _n in rows],
    }


def _overdue_by_unit(current: OpenOrders) -> dict:
    rows = sorted(
        (
            (unit, name, n)
            for (unit, name), n in current.by("org_unit", "org_unit__name", count="overdue").items()
            if n
        ),
        key=lambda row: (-row[2], row[1]),
    )
    return {
        "labels": [name for _unit, name, _n in rows],
        "data": [n for _unit, _name, n in rows],
        "links": [_link(deadline="overdue", org_unit=unit) for unit, _name, _n in rows],
    }


SATISFIED = [ReturnVisit.Result.SATISFIED, ReturnVisit.Result.BASICALLY]


def _satisfaction(visits, period: Period) -> dict:
    """Satisfaction of the period's return visits by segment (城市/农村 × 居民/非居民)
    and by unit; the weakest of each is marked."""
    visited = visits.filter(visited_at__gte=period.start, visited_at__lt=period.end)
    happy = Count("id", filter=Q(result__in=SATISFIED))
    by_segment = (
        visited.annotate(
            resident=Case(
                When(ticket__customer__kind=Customer.Kind.RESIDENT, then=Value(True)),
                default=Value(False),
            )
        )
        .values("ticket__customer__segment", "resident")
        .annotate(n=Count("id"), happy=happy)
        .order_by("ticket__customer__segment", "-resident")
    )
    by_unit = (
        visited.values("ticket__org_unit", "ticket__org_unit__name")
        .annotate(n=Count("id"), happy=happy)
        .order_by("ticket__org_unit__name")
    )

    def series(rows, label) -> dict:
        rates = [_rate(row["happy"], row["n"]) for row in rows]
        weakest = min(range(len(rates)), key=lambda i: rates[i]) if len(rates) > 1 else None
        labels = [label(row) for row in rows]
        return {
            "labels": labels,
            "data": rates,
            "counts": [row["n"] for row in rows],
            "weakest": weakest,
            "rows": [
                {"label": labels[i], "rate": rates[i], "n": row["n"], "weakest": i == weakest}
                for i, row in enumerate(rows)
            ],
        }

    def segment_label(row) -> str:
        segment = str(Customer.Segment(row["ticket__customer__segment"]).label)
        return f"{segment}{_('居民') if row['resident'] else _('非居民')}"

    return {
        "segment": series(list(by_segment), segment_label),
        "unit": series(list(by_unit), lambda row: row["ticket__org_unit__name"]),
    }


def _groups_by_station(path: str | None, now: datetime) -> dict:
    """Per station: the share of the health window's decided inquiries answered
    in time, and the number of zombie groups. Counted from the inquiries and
    the groups separately, so the million messages of a prefecture are never
    joined to their groups as a whole (with_health() does that for a page)."""
    groups = ServiceGroup.objects.active().filter(_in_scope(path, "org_unit"))
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
            decided=Count("id", filter=Q(answered_at__isnull=False) | Q(response_due_at__lte=now)),
            in_time=Count("id", filter=Q(answered_at__lte=F("response_due_at"))),
        )
        .order_by()
    ):
        entry = stations[row["group__org_unit__name"]]
        entry["decided"], entry["in_time"] = row["decided"], row["in_time"]
    for row in (
        groups.filter(zombie_exists_q(now)).values("org_unit__name").annotate(n=Count("id")).order_by()
    ):
        stations[row["org_unit__name"]]["zombies"] = row["n"]
    return {
        "labels": list(stations),
        "rate": [_rate(s["in_time"], s["decided"]) for s in stations.values()],
        "zombies": [s["zombies"] for s in stations.values()],
    }


def _overdue_rows(tickets, now: datetime) -> list[dict]:
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
        row["assignee"] = row["assignee__real_name"] or row["assignee__username"] or ""
    return rows


def _workload(current: OpenOrders, visits, path: str | None, now: datetime) -> list[dict]:
    """Per account manager of the scope: open, overdue, near-deadline orders, return visits due."""
    today_end = _midnight(timezone.localdate(now) + timedelta(days=1))
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
        Q(role=User.Role.ACCOUNT_MANAGER, **({"org_unit__path__startswith": path} if path else {}))
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
                "link": _link(status="open", assignee=person.pk),
            }
        )
    rows.sort(key=lambda r: (-r["overdue"], -r["near"], -r["open"], r["name"]))
    return rows


def _urges(tickets, period: Period) -> list[dict]:
    events = TicketEvent.objects.filter(
        ticket__in=tickets.values("pk"),
        action=TicketEvent.Action.URGED,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    rows = list(
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
    return rows


def compute_dashboard(*, user: User, period: Period, now: datetime | None = None) -> Dashboard:
    """All figures, series and tables, in QUERY_COUNT queries whatever the data."""
    now = now or timezone.now()
    path = scope_path(user)
    tickets = Ticket.objects.filter(_in_scope(path, "org_unit"))
    visits = ReturnVisit.objects.filter(_in_scope(path, "ticket__org_unit"))
    current = _open_orders(tickets, now)
    figures, totals = _figures(tickets, visits, period, current)
    return Dashboard(
        period=period,
        computed_at=now,
        figures=figures,
        charts={
            "per_day": _orders_per_day(tickets, period),
            "by_category": _open_by_category(current),
            "overdue_by_unit": _overdue_by_unit(current),
            "satisfaction": _satisfaction(visits, period),
            "groups": _groups_by_station(path, now),
            "texts": {
                "orders": _("工单数"),
                "satisfaction": _("满意率(%)"),
                "response": _("按时回复率(%)"),
                "zombies": _("僵尸群"),
                "empty": _("暂无数据"),
            },
        },
        overdue_rows=_overdue_rows(tickets, now),
        overdue_total=totals["overdue"],
        workload=_workload(current, visits, path, now),
        urges=_urges(tickets, period),
        urges_total=totals["urges"],
    )


def cache_key(user: User, period: Period) -> str:
    path = scope_path(user) or "all"
    days = f"{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}"
    return f"crm:dashboard:{translation.get_language()}:{path}:{period.key}:{days}"


def dashboard_for(*, user: User, period: Period) -> Dashboard:
    """The dashboard from the cache, or computed now when there is none.

    Figures older than DASHBOARD_CACHE_SECONDS are still shown (the page says
    when they were computed) while a worker computes new ones: a prefecture's
    figures take a second of SQL, which the supervisor then waits for only on
    a first look, and which no web process spends more than once a minute.
    """
    key = cache_key(user, period)
    found = cache.get(key)
    if found is None:
        return store(user=user, period=period)
    if timezone.now() - found.computed_at > timedelta(seconds=DASHBOARD_CACHE_SECONDS):
        _refresh_soon(user, period, key)
    return found


def store(*, user: User, period: Period) -> Dashboard:
    """Compute the dashboard and keep it for DASHBOARD_KEEP_SECONDS."""
    key = cache_key(user, period)
    found = compute_dashboard(user=user, period=period)
    cache.set(key, found, DASHBOARD_KEEP_SECONDS)
    cache.delete(f"{key}:refreshing")
    return found


def _refresh_soon(user: User, period: Period, key: str) -> None:
    """Ask a worker for new figures, once per key: the marker stays while a
    refresh may be running, so a busy dashboard is refreshed once a minute."""
    marker = f"{key}:refreshing"
    if not cache.add(marker, True, DASHBOARD_CACHE_SECONDS):
        return
    from core.broker import publish_once
    from workspace.tasks import refresh_dashboard

    try:
        publish_once(refresh_dashboard, user.pk, period.query(), translation.get_language())
    except Exception as exc:
        # The next view of the page asks again.
        cache.delete(marker)
        logger.warning(
            "Could not ask for a dashboard refresh (%s); the figures stay as they are", type(exc).__name__
        )
