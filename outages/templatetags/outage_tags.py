"""The outage panel of the customer 360 page."""

from django import template

register = template.Library()


@register.inclusion_tag("outages/_customer_outages_slot.html")
def customer_outages(customer):
    """A placeholder that loads the panel after the page (no query on the 360 page itself)."""
    return {"customer": customer}
