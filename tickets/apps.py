from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("工单")

    def ready(self) -> None:
        # customers sits below tickets: it asks through this hook whether a contact log's order exists.
        from customers.interactions.ticket_links import register_ticket_lookup
        from tickets.selectors import visible_ticket_number

        register_ticket_lookup(visible_ticket_number)
