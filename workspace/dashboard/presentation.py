"""How the dashboard shows its figures: the records the page and the export
read, links into the work-order list, rates, and chart series made from rows
already counted (nothing here queries the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import User
from core.durations import duration_figure
from tickets.models import Category, Kind, ReturnVisit, Status
from tickets.satisfaction import CHANNEL_CHOICES, SEGMENT_CHOICES
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
    # How a satisfaction figure was obtained: 自助评价 and staff return visits.
    channels: list[tuple[str, int, str]] = field(default_factory=list)
    # The number of orders `link` lists: the value of a count, the denominator of a
    # rate, the orders a duration measured.
    count: int = 0


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
    scope: str = ""
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


def scope_label(user: User) -> str:
    """The units the figures cover, as the page and the export name them."""
    return user.org_unit.name if not user.is_administrator and user.org_unit_id else _("全部单位")


def _days(period: Period, field_name: str) -> dict[str, str]:
    """The list's day filters `<field>_after`/`<field>_before` bounding the period."""
    return {
        f"{field_name}_after": f"{period.first_day:%Y-%m-%d}",
        f"{field_name}_before": f"{period.last_day:%Y-%m-%d}",
    }


def _duration(key: str, label: str, seconds: float | None, link: str, note: str, count: int) -> Figure:
    value, unit = duration_figure(seconds)
    return Figure(key, label, value, unit, link, note, count=count)


def figure_cards(counts: dict[str, Any], satisfaction: dict, period: Period) -> list[Figure]:
    """The figures at the top of the page, each linked to the orders it counts
    (a duration to the orders it measured, a rate to the orders of its denominator)."""
    unsigned = counts["unsigned_new"] + counts["unsigned_dispatched"] + counts["unsigned_returned"]
    created_link = _days(period, "created")
    resolved_link = _days(period, "resolved")
    signed_link = _days(period, "signed")
    visit_due_link = _days(period, "visit_due")
    visited_link = _days(period, "visited")
    urged_link = _days(period, "urged")
    link = tickets_link
    signed_note = _("期间内签收 %(n)s 张") % {"n": counts["signed"]}
    resolved_note = _("期间内办结 %(n)s 张") % {"n": counts["resolved"]}
    total = satisfaction["total"]
    return [
        Figure(
            "new",
            _("新增工单"),
            counts["new"],
            link=link(**created_link),
            note=_("期间内受理"),
            count=counts["new"],
        ),
        Figure(
            "open",
            _("未办结"),
            counts["open"],
            link=link(status="open"),
            note=_("当前"),
            count=counts["open"],
        ),
        Figure(
            "overdue",
            _("已超时"),
            counts["overdue"],
            link=link(deadline="overdue"),
            note=_("当前"),
            count=counts["overdue"],
        ),
        Figure(
            "near",
            _("即将超时"),
            counts["near"],
            link=link(deadline="near"),
            note=_("当前"),
            count=counts["near"],
        ),
        Figure(
            "unsigned",
            _("未签收"),
            unsigned,
            link=link(status="unsigned"),
            note=_("当前"),
            parts=[
                (str(status.label), counts[f"unsigned_{status.value}"], link(status=status))
                for status in (Status.NEW, Status.DISPATCHED, Status.RETURNED)
            ],
            count=unsigned,
        ),
        Figure(
            "sla",
            _("按时办结率"),
            rate(counts["resolved_in_time"], counts["resolved"]),
            "%",
            link(**resolved_link),
            _("期间内办结 %(n)s 件，按时 %(m)s 件")
            % {"n": counts["resolved"], "m": counts["resolved_in_time"]},
            count=counts["resolved"],
        ),
        _duration(
            "sign_mean",
            _("平均签收用时"),
            counts["sign_mean"],
            link(**signed_link),
            signed_note,
            counts["signed"],
        ),
        _duration(
            "sign_p90",
            _("签收用时90分位"),
            counts["sign_p90"],
            link(**signed_link),
            signed_note,
            counts["signed"],
        ),
        _duration(
            "resolve_mean",
            _("平均办结用时"),
            counts["resolve_mean"],
            link(**resolved_link),
            resolved_note,
            counts["resolved"],
        ),
        _duration(
            "resolve_p90",
            _("办结用时90分位"),
            counts["resolve_p90"],
            link(**resolved_link),
            resolved_note,
            counts["resolved"],
        ),
        Figure(
            "urged",
            _("被催办工单"),
            counts["urged"],
            link=link(urged=1, **urged_link),
            note=_("期间内催办 %(n)s 次") % {"n": counts["urges"]},
            count=counts["urged"],
        ),
        Figure(
            "repeat",
            _("重复投诉"),
            counts["repeat"],
            link=link(repeat=1, **created_link),
            note=_("期间内受理"),
            count=counts["repeat"],
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
            count=counts["scheduled"],
        ),
        Figure(
            "satisfaction",
            _("满意率"),
            total["rate"],
            "%",
            total["link"],
            _("（满意+基本满意）/已回访：%(m)s/%(n)s") % {"m": total["happy"], "n": total["n"]},
            parts=[
                (str(result.label), total[result.value], link(satisfaction=result.value, **visited_link))
                for result in ReturnVisit.Result
            ],
            channels=[
                (str(label), total[channel], link(channel=channel, **visited_link))
                for channel, label in CHANNEL_CHOICES
            ],
            count=total["n"],
        ),
    ]


def _satisfaction_group(label: str, link: str) -> dict[str, Any]:
    group: dict[str, Any] = {"label": label, "link": link, "n": 0, "happy": 0}
    group.update({result: 0 for result in ReturnVisit.Result.values})
    group.update({channel: 0 for channel, _label in CHANNEL_CHOICES})
    return group


def satisfaction_summary(rows: list[dict], period: Period) -> dict[str, Any]:
    """The headline, the segments and the units, each from the same rows (one row per
    segment, unit, result and channel): the segments and the units each add up to the
    headline, and so does the breakdown by result and by channel."""
    visited = _days(period, "visited")
    total = _satisfaction_group(_("合计"), tickets_link(**visited))
    segments = {
        key: _satisfaction_group(str(label), tickets_link(segment=key, **visited))
        for key, label in SEGMENT_CHOICES
    }
    units: dict[int, dict[str, Any]] = {}
    for row in rows:
        unit = units.setdefault(
            row["ticket__org_unit"],
            _satisfaction_group(
                row["ticket__org_unit__name"], tickets_link(unit=row["ticket__org_unit"], **visited)
            ),
        )
        for group in (total, segments[row["segment"]], unit):
            group["n"] += row["n"]
            group[row["result"]] += row["n"]
            group[row["channel"]] += row["n"]
            if row["result"] in ReturnVisit.SATISFIED_RESULTS:
                group["happy"] += row["n"]
    for group in (total, *segments.values(), *units.values()):
        group["rate"] = rate(group["happy"], group["n"])
    return {
        "total": total,
        "segments": [group for group in segments.values() if group["n"]],
        "units": sorted(units.values(), key=lambda group: group["label"]),
    }


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
    # Equal counts in the categories' own order, whatever order the database grouped them in.
    rows = sorted(open_by_category.items(), key=lambda item: (-item[1], Category.values.index(item[0][0])))
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
        # The unit itself, not its subtree: the bar counts the unit's own orders.
        "links": [tickets_link(deadline="overdue", unit=unit) for unit, _name, _n in rows],
    }


def satisfaction_chart(summary: dict[str, Any]) -> dict:
    """Satisfaction by segment (城市/农村 × 居民/非居民) and by unit; the weakest of each is marked."""

    def series(groups: list[dict]) -> dict:
        rates = [group["rate"] for group in groups]
        weakest = min(range(len(rates)), key=lambda i: rates[i]) if len(rates) > 1 else None
        return {
            "labels": [group["label"] for group in groups],
            "data": rates,
            "counts": [group["n"] for group in groups],
            "weakest": weakest,
            "rows": [{**group, "weakest": i == weakest} for i, group in enumerate(groups)],
        }

    return {
        "segment": series(summary["segments"]),
        "unit": series(summary["units"]),
        "total": summary["total"],
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
