"""Hooks into lower apps' saves; the per-minute sweep is the safety net for each."""

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from tickets.models import Ticket

logger = logging.getLogger(__name__)


@receiver(post_save, sender=Ticket, dispatch_uid="outages_link_complaint")
def link_new_complaint(sender, instance: Ticket, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return

    def link() -> None:
        from outages.complaints import complaints_link_ticket

        try:
            complaints_link_ticket(instance)
        except Exception:  # the sweep links it within a minute
            logger.exception("Could not link work order %s to an outage", instance.pk)

    transaction.on_commit(link)
