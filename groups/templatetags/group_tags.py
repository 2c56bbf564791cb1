"""Small helpers for the group pages: durations, shares and sortable column headers."""

from datetime import timedelta

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
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


@register.simple_tag
def owner_health_rows(rows) -> str:
    """The rows of the supervisor's owner table (groups.selectors.owner_health).

    A prefecture has hundreds of owners: one tag building each row from
    formatted strings costs a fraction of a dozen variable and filter nodes
    per row. The markup is the one the table always had.
    """
    url = escape(reverse("groups:list"))
    labels = [
        escape(_(label))
        for label in ("群数", "僵尸群", "近期咨询", "按时回复率", "响应时长中位数", "待回复", "最近发言")
    ]
    groups_, zombies_, recent_, in_time_, median_, waiting_, last_spoke_ = labels
    never_spoke = escape(_("从未发言"))
    html = []
    for row in rows:
        owner = row.owner
        name = escape(owner.real_name or owner.username)
        unit = escape(owner.org_unit.name) if owner.org_unit is not None else ""
        warning = ' class="table-warning"' if row.zombies else ""
        zombies = f'<span class="badge text-bg-danger">{row.zombies}</span>' if row.zombies else "0"
        if row.silent_days is None:
            last_spoke = f'<span class="text-body-secondary">{never_spoke}</span>'
        else:
            last_spoke = escape(days_ago(row.silent_days))
        median = escape(seconds_as_duration(row.median_response_seconds))
        html.append(
            f'\n        <tr data-owner="{owner.pk}"{warning}>\n'
            f'          <td class="card-title-cell"><a href="{url}?owner={owner.pk}">{name}</a>'
            f' <span class="small text-body-secondary">{unit}</span></td>\n'
            f'          <td data-label="{groups_}">{row.groups}</td>\n'
            f'          <td data-label="{zombies_}">{zombies}</td>\n'
            f'          <td data-label="{recent_}">{row.inquiries_recent}</td>\n'
            f'          <td data-label="{in_time_}">{escape(as_percent(row.in_time_share))}</td>\n'
            f'          <td data-label="{median_}">{median}</td>\n'
            f'          <td data-label="{waiting_}">{row.unanswered_now}</td>\n'
            f'          <td data-label="{last_spoke_}">{last_spoke}</td>\n'
            "        </tr>\n      "
        )
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped or a number


@register.simple_tag
def owner_option_tags(owners, selected) -> str:
    """The owner filter's <option>s (groups.selectors.owner_options), hundreds at a
    prefecture's size: built in one tag, the one given (the request's owner) selected."""
    chosen = str(selected)
    return mark_safe(  # noqa: S308 - the names are escaped, the keys are numbers
        "".join(
            f'<option value="{pk}"{" selected" if str(pk) == chosen else ""}>{escape(name)}</option>'
            for pk, name in owners
        )
    )
