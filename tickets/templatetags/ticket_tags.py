"""Work-order panels that other apps' pages include without importing tickets."""

from django import template
from django.utils import timezone

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
