"""Small helpers for the group pages: durations, shares and sortable column headers."""

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from core.durations import format_duration

register = template.Library()


@register.filter
def seconds_as_duration(value) -> str:
    """1小时5分, 12分, 不足1分; — for no value."""
    if value is None or value == "":
        return "—"
    return format_duration(timedelta(seconds=float(value)))


@register.filter
def days_ago(days) -> str:
    """今天, 昨天, 3天前; — for no value."""
    if days is None or days == "":
        return "—"
    if days == 0:
        return _("今天")
    if days == 1:
        return _("昨天")
    return _("%(n)s天前") % {"n": days}


@register.filter
def as_percent(value) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.0f}%"


@register.simple_tag(takes_context=True)
def sort_query(context, key: str) -> str:
    """The query string that sorts the list by `key`: worst first on the first
    click (descending, or ascending for shares and silence dates), reversed on
    the next; filters are kept, the page goes back to 1."""
    request = context["request"]
    current = context["page"].sort
    ascending_first = key in ("in_time", "silent", "name")
    first = key if ascending_first else f"-{key}"
    reverse = first[1:] if first.startswith("-") else f"-{first}"
    target = reverse if current == first else first
    params = request.GET.copy()
    params["sort"] = target
    params.pop("page", None)
    return "?" + params.urlencode()


@register.simple_tag(takes_context=True)
def sort_mark(context, key: str) -> str:
    current = context["page"].sort
    if current.lstrip("-") != key:
        return ""
    return "▼" if current.startswith("-") else "▲"


@register.simple_tag(takes_context=True)
def page_query(context, number: int) -> str:
    params = context["request"].GET.copy()
    params["page"] = number
    return "?" + params.urlencode()


# The message log prints two stamps per message; these skip the date filter's format
# lookups (a tenth of the page's rendering at 200 messages) and give the same text.
@register.filter(expects_localtime=True)
def iso_time(value) -> str:
    """As |date:'c'."""
    return value.isoformat() if value else ""


@register.filter(expects_localtime=True)
def minute_time(value) -> str:
    """As |date:"Y-m-d H:i"."""
    return f"{value.year:04d}-{value:%m-%d %H:%M}" if value else ""  # %Y drops the zeros of years < 1000
