"""Work-order panels and badges that pages include without importing tickets."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from core.choices import choice_label
from tickets.models import Ticket
from tickets.selectors import deadline_of

register = template.Library()

CUSTOMER_PANEL_LIMIT = 20


@register.inclusion_tag("tickets/_customer_tickets.html", takes_context=True)
def customer_tickets(context, customer):
    """The customer's orders the user may see, newest first (one query)."""
    user = context["request"].user
    rows = list(
        Ticket.objects.visible_to(user)
        .filter(customer=customer)
        .select_related("assignee")
        .order_by("-created_at", "-id")[: CUSTOMER_PANEL_LIMIT + 1]
    )
    now = timezone.now()
    for ticket in rows:
        ticket.deadline = deadline_of(ticket, now)
    return {
        "customer": customer,
        "tickets": rows[:CUSTOMER_PANEL_LIMIT],
        "more": len(rows) > CUSTOMER_PANEL_LIMIT,
    }


# The badges of an order, written in Python: a list page shows three per row, and an
# included template per badge cost more than the rest of the row.
_STATUS_BADGE = {
    "new": "text-bg-secondary",
    "returned": "text-bg-secondary",
    "dispatched": "text-bg-info",
    "signed": "text-bg-primary",
    "in_progress": "text-bg-primary",
    "resolved": "text-bg-success",
    "visited": "text-bg-success",
}
_URGENCY_BADGE = {2: "text-bg-danger", 1: "text-bg-warning"}
_DEADLINE_BADGE = {
    "overdue": "badge text-bg-danger deadline-overdue",
    "near": "badge text-bg-warning deadline-near",
    "ok": "deadline-ok",
}


@register.simple_tag
def status_badge(ticket: Ticket) -> str:
    css = _STATUS_BADGE.get(ticket.status, "text-bg-light border")
    return format_html('<span class="badge {}">{}</span>', css, choice_label(ticket, "status"))


@register.simple_tag
def urgency_badge(ticket: Ticket) -> str:
    css = _URGENCY_BADGE.get(ticket.urgency, "text-bg-light border")
    return format_html('<span class="badge {}">{}</span>', css, choice_label(ticket, "urgency"))


@register.simple_tag
def deadline_badge(deadline) -> str:
    """Time left or over on the running deadline (tickets.selectors.Deadline), its clock in the title."""
    css = _DEADLINE_BADGE.get(getattr(deadline, "level", None))
    if css is None:
        return mark_safe('<span class="text-body-secondary">—</span>')
    title = _("%(clock)s时限") % {"clock": deadline.clock}
    return format_html('<span class="{}" title="{}">{}</span>', css, title, deadline.text)
