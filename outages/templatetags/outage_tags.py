"""The outage panel of the customer 360 page and the outage status badge."""

from django import template
from django.utils.html import format_html

from outages.models import Outage, OutageStatus

register = template.Library()

_STATUS_BADGE = {
    OutageStatus.ONGOING: "text-bg-danger",
    OutageStatus.PUBLISHED: "text-bg-warning",
    OutageStatus.RESTORED: "text-bg-success",
}


@register.simple_tag
def outage_status_badge(outage: Outage) -> str:
    """The status as a coloured badge; a tag rather than an included template, since a
    supervisor's outage list writes one per row (hundreds at a prefecture's size)."""
    css = _STATUS_BADGE.get(outage.status, "text-bg-secondary")
    return format_html('<span class="badge {}">{}</span>', css, outage.get_status_display())


@register.inclusion_tag("outages/_customer_outages_slot.html")
def customer_outages(customer):
    """A placeholder that loads the panel after the page (no query on the 360 page itself)."""
    return {"customer": customer}
