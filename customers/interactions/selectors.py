"""Reads of the contact log: live customers' contacts the user may see."""

from django.db.models import QuerySet

from accounts.models import User
from customers.models import Interaction


def interaction_queryset(*, user: User) -> QuerySet[Interaction]:
    return (
        Interaction.objects.visible_to(user)
        .filter(customer__deleted_at__isnull=True)
        .select_related("customer", "staff")
    )
