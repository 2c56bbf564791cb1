"""The period the dashboard covers: today, the last 7 or 30 days, or chosen dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_PERIOD_DAYS = 366

PERIODS = {
    "today": gettext_lazy("今日"),
    "7d": gettext_lazy("近7天"),
    "30d": gettext_lazy("近30天"),
    "custom": gettext_lazy("自定义"),
}


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


def midnight(day: date) -> datetime:
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
            return Period("custom", midnight(first), midnight(last + timedelta(days=1)), first, last), ""
        key = "7d"
    if key not in PERIODS:
        key = "7d"
    first = today - timedelta(days={"today": 0, "7d": 6, "30d": 29}[key])
    return Period(key, midnight(first), midnight(today + timedelta(days=1)), first, today), error
