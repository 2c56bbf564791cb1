"""How the API takes one lifecycle step: conditional on If-Match, checked, validated, done by the service.

In one transaction: the order's row is locked; a stale `If-Match` answers 412
with the current ETag; `tickets.permissions.ticket_check` refuses a step the
status does not allow (409) or the user's role does not (403); the body is
validated (400); the step's service runs, checking everything again. Any
refusal rolls the transaction back, so a refused step changes nothing.
"""

from collections.abc import Callable
from typing import Any

from django.db import transaction
from rest_framework import serializers

from core.api.steps import require_current
from tickets import permissions
from tickets.models import Ticket


def take_step(
    *,
    ticket: Ticket,
    user,
    action: str,
    if_match: str | None,
    body: serializers.Serializer | None,
    run: Callable[[Ticket, dict[str, Any]], Any],
) -> None:
    with transaction.atomic():
        locked = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("org_unit", "customer")
            .get(pk=ticket.pk)
        )
        require_current(if_match, pk=locked.pk, version=locked.version)
        permissions.ticket_check(ticket=locked, by=user, action=action)
        data: dict[str, Any] = {}
        if body is not None:
            body.is_valid(raise_exception=True)
            data = dict(body.validated_data)
        run(locked, data)
