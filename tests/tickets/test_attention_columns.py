"""The stored running deadline and warning point (attention_due_at, attention_warn_at).

The database computes them from the status and the four clock columns; the
list ranks and the overdue/near filters read them. Every combination of
status and clock below must give what the rule says on a loaded order
(Ticket.running_due_at, and the warning point the same way).
"""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from tickets.models import NO_DEADLINE_TEXT, OPEN_STATUSES, UNSIGNED_STATUSES, Status, Ticket
from tickets.selectors import NO_DEADLINE

H = timedelta(hours=1)


def expected(ticket: Ticket, due: str, warn: str):
    """The rule in Python: closed → None; the earlier of signing (while unsigned)
    and resolving; no deadline at all → NO_DEADLINE."""
    if ticket.status not in OPEN_STATUSES:
        return None
    sign, resolve = getattr(ticket, f"sign_{due}"), getattr(ticket, f"resolve_{due}")
    moments = [moment for moment in (resolve, sign if ticket.status in UNSIGNED_STATUSES else None) if moment]
    return min(moments) if moments else NO_DEADLINE


def test_the_no_deadline_literal_is_the_python_constant():
    from django.utils.dateparse import parse_datetime

    assert parse_datetime(NO_DEADLINE_TEXT) == NO_DEADLINE


@pytest.mark.parametrize("status", list(Status))
def test_stored_deadline_and_warning_follow_the_rule_for_every_clock(open_ticket, status):
    now = timezone.now().replace(microsecond=0)
    clocks = [None, now - 2 * H, now + 3 * H]
    ticket = open_ticket()
    for sign, resolve in itertools.product(clocks, clocks):
        Ticket.objects.filter(pk=ticket.pk).update(
            status=status,
            sign_due_at=sign,
            resolve_due_at=resolve,
            sign_warn_at=sign and sign - H,
            resolve_warn_at=resolve and resolve - H,
        )
        ticket.refresh_from_db()
        assert ticket.attention_due_at == expected(ticket, "due_at", "warn_at"), (sign, resolve)
        assert ticket.attention_warn_at == expected(ticket, "warn_at", "due_at"), (sign, resolve)
        if ticket.status in OPEN_STATUSES:
            running = ticket.running_due_at
            assert ticket.attention_due_at == (running or NO_DEADLINE)
            # The queryset filters agree with the loaded order.
            assert Ticket.objects.overdue(now=now).filter(pk=ticket.pk).exists() == ticket.is_overdue(now)
