"""How the interface reads a length of time: 2小时15分, 1天3小时, 40分."""

from datetime import timedelta

from django.utils.translation import gettext as _


def format_duration(delta: timedelta) -> str:
    """2小时15分, 1天3小时, 40分; under a minute reads 不足1分. Minutes are dropped once there are days."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes == 0:
        return _("不足1分")
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)s天") % {"n": days})
    if hours:
        parts.append(_("%(n)s小时") % {"n": hours})
    if minutes and not days:
        parts.append(_("%(n)s分") % {"n": minutes})
    return "".join(parts)


def duration_figure(seconds: float | None) -> tuple[float | int | None, str]:
    """A measured length of time as a figure and its unit, as the dashboard and its export
    show it: minutes below two hours (one decimal below ten minutes), hours with one
    decimal from two hours on. (None, "") when nothing was measured."""
    if seconds is None:
        return None, ""
    if seconds < 2 * 3600:
        minutes = seconds / 60
        return (round(minutes, 1) if minutes < 10 else round(minutes)), _("分钟")
    return round(seconds / 3600, 1), _("小时")
