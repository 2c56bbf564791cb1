"""How the dashboard shows its figures: the records the page and the export
read, links into the work-order list, rates, and chart series made from rows
already counted (nothing here queries the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _

from customers.models import Customer
from tickets.filtersets import HAPPY
from tickets.models import Category, Kind, ReturnVisit, Status
from workspace.dashboard.periods import Period

TICKETS_URL = "/tickets/"


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
    promise_rows: list[dict] = field(default_factory=list)
    promises_total: int = 0
    promises_overdue: int = 0

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


def tickets_link(**params: Any) -> str:
    """The work-order list filtered to what a figure counts."""
    query = "&".join(f"{name}={value}" for name, value in params.items() if value not in (None, ""))
    return f"{TICKETS_URL}?{query}" if query else TICKETS_URL


def rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def figure_cards(counts: dict[str, Any], period: Period) -> list[Figure]:
    """The figures at the top of the page, each linked to the orders it counts."""
    unsigned = counts["unsigned_new"] + counts["unsigned_dispatched"] + counts["unsigned_returned"]
    hours = _("小时")
    days = {"first": f"{period.first_day:%Y-%m-%d}", "last": f"{period.last_day:%Y-%m-%d}"}
    created_link = {"created_after": days["first"], "created_before": days["last"]}
    resolved_link = {"resolved_after": days["first"], "resolved_before": days["last"]}
    visit_due_link = {"visit_due_after": days["first"], "visit_due_before": days["last"]}
    visited_link = {"visited_after": days["first"], "visited_before": days["last"]}
    link = tickets_link
    return [
        Figure("new", _("新增工单"), counts["new"], link=link(**created_link), note=_("期间内受理")),
        Figure("open", _("未办结"), counts["open"], link=link(status="open"), note=_("当前")),
        Figure("overdue", _("已超时"), counts["overdue"], link=link(deadline="overdue"), note=_("当前")),
        Figure("near", _("即将超时"), counts["near"], link=link(deadline="near"), note=_("当前")),
        Figure(
            "unsigned",
            _("未签收"),
            unsigned,
            link=link(status=Status.DISPATCHED),
            note=_("当前"),
            parts=[
                (str(status.label), counts[f"unsigned_{status.value}"], link(status=status))
                for status in (Status.NEW, Status.DISPATCHED, Status.RETURNED)
            ],
        ),
        Figure(
            "sla",
            _("按时办结率"),
            rate(counts["resolved_in_time"], counts["resolved"]),
            "%",
            link(**resolved_link),
            _("期间内办结 %(n)s 件，按时 %(m)s 件")
            % {"n": counts["resolved"], "m": counts["resolved_in_time"]},
        ),
        Figure("sign_mean", _("平均签收用时"), counts["sign_mean"], hours, link(status="closed")),
        Figure("sign_p90", _("签收用时90分位"), counts["sign_p90"], hours, link(status="closed")),
        Figure("resolve_mean", _("平均办结用时"), counts["resolve_mean"], hours, link(**resolved_link)),
        Figure("resolve_p90", _("办结用时90分位"), counts["resolve_p90"], hours, link(**resolved_link)),
        Figure(
            "urged",
            _("被催办工单"),
            counts["urged"],
            link=link(urged=1, urged_after=days["first"], urged_before=days["last"]),
            note=_("期间内催办 %(n)s 次") % {"n": counts["urges"]},
        ),
        Figure(
            "repeat",
            _("重复投诉"),
            counts["repeat"],
            link=link(repeat=1, **created_link),
            note=_("期间内受理"),
        ),
        Figure(
            "coverage",
            _("回访覆盖率"),
            rate(counts["scheduled_done"], counts["scheduled"]),
            "%",
            link(**visit_due_link),
            _("期间内应回访 %(n)s 件，已回访 %(m)s 件")
            % {"n": counts["scheduled"], "m": counts["scheduled_done"]},
            parts=[
                (_("已回访"), counts["scheduled_done"], link(visited="yes", **visit_due_link)),
                (_("未回访"), counts["scheduled_pending"], link(visited="no", **visit_due_link)),
            ],
        ),
        Figure(
            "satisfaction",
            _("满意率"),
            rate(counts["satisfied"], counts["visited"]),
            "%",
            link(**visited_link),
            _("（满意+基本满意）/已回访：%(m)s/%(n)s") % {"m": counts["satisfied"], "n": counts["visited"]},
            parts=[
                (_("满意或基本满意"), counts["satisfied"], link(satisfaction=HAPPY, **visited_link)),
                (
                    str(ReturnVisit.Result.DISSATISFIED.label),
                    counts["dissatisfied"],
                    link(satisfaction=ReturnVisit.Result.DISSATISFIED, **visited_link),
                ),
            ],
        ),
    ]


def per_day_chart(rows: list[dict], period: Period) -> dict:
    """New orders per day and kind; a kind with none in the period is left out."""
    days = period.days()
    index = {day: i for i, day in enumerate(days)}
    series = {kind: [0] * len(days) for kind in Kind.values}
    for row in rows:
        day: date = row["day"]
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


def category_chart(open_by_category: dict[tuple, int]) -> dict:
    rows = sorted(open_by_category.items(), key=lambda item: -item[1])
    return {
        "labels": [str(Category(category).label) for (category,), _n in rows],
        "data": [n for _key, n in rows],
        "links": [tickets_link(status="open", category=category) for (category,), _n in rows],
    }


def overdue_by_unit_chart(overdue_by_unit: dict[tuple, int]) -> dict:
    rows = sorted(
        ((unit, name, n) for (unit, name), n in overdue_by_unit.items() if n),
        key=lambda row: (-row[2], row[1]),
    )
    return {
        "labels": [name for _unit, name, _n in rows],
        "data": [n for _unit, _name, n in rows],
        "links": [tickets_link(deadline="overdue", org_unit=unit) for unit, _name, _n in rows],
    }


def satisfaction_chart(by_segment: list[dict], by_unit: list[dict]) -> dict:
    """Satisfaction by segment (城市/农村 × 居民/非居民) and by unit; the weakest of each is marked."""

    def series(rows, label) -> dict:
        rates = [rate(row["happy"], row["n"]) for row in rows]
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
        "segment": series(by_segment, segment_label),
        "unit": series(by_unit, lambda row: row["ticket__org_unit__name"]),
    }


def groups_chart(stations: dict[str, dict[str, int]]) -> dict:
    """Per station: the share of decided inquiries answered in time, and the zombie groups."""
    return {
        "labels": list(stations),
        "rate": [rate(s["in_time"], s["decided"]) for s in stations.values()],
        "zombies": [s["zombies"] for s in stations.values()],
    }


def chart_texts() -> dict[str, str]:
    return {
        "orders": _("工单数"),
        "satisfaction": _("满意率(%)"),
        "response": _("按时回复率(%)"),
        "zombies": _("僵尸群"),
        "empty": _("暂无数据"),
    }
