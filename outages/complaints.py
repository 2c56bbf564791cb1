"""Work orders about an outage (seed 001 §3): a 停电-category order of an
affected customer, opened while the outage lasts or shortly after it, is
linked to the outage; when the outage has run long, its registrar hears of
each such complaint at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications.services import NotificationDraft, notifications_enqueue_many
from outages.models import Outage, OutageComplaint, OutageStatus
from tickets.models import Category, Ticket

# Complaints keep coming for a while after the power is back.
AFTER_RESTORATION = timedelta(hours=2)
SWEEP_LIMIT = 100


def _window(outage: Outage, now: datetime) -> tuple[datetime | None, datetime]:
    start = outage.actual_start or outage.planned_start
    end = outage.actual_end + AFTER_RESTORATION if outage.actual_end else now
    return start, end


def _candidates(now: datetime):
    """Outages whose complaint window is open now: running, or restored a little while ago."""
    return Outage.objects.filter(published_at__isnull=False).filter(
        Q(status=OutageStatus.ONGOING)
        | Q(status=OutageStatus.RESTORED, actual_end__gte=now - AFTER_RESTORATION)
    )


def _link(outage: Outage, tickets, now: datetime) -> int:
    start, end = _window(outage, now)
    if start is None:
        return 0
    ticket_ids = list(
        tickets.filter(
            category=Category.OUTAGE,
            customer__outages_affected__outage=outage,
            created_at__gte=start,
            created_at__lte=end,
        )
        .exclude(outage_links__outage=outage)
        .values_list("pk", flat=True)
    )
    if not ticket_ids:
        return 0
    OutageComplaint.objects.bulk_create(
        [OutageComplaint(outage=outage, ticket_id=pk) for pk in ticket_ids], ignore_conflicts=True
    )
    _pass_on(outage, ticket_ids, now)
    return len(ticket_ids)


def _pass_on(outage: Outage, ticket_ids: list[int], now: datetime) -> None:
    """A complaint about a long outage goes to whoever registered the outage, at once."""
    start = outage.actual_start
    if not outage.created_by_id or start is None or now - start < timedelta(hours=settings.OUTAGE_LONG_HOURS):
        return
    tickets = Ticket.objects.filter(pk__in=ticket_ids).values("pk", "number", "customer__name")
    with translation.override(settings.LANGUAGE_CODE):
        notifications_enqueue_many(
            [
                NotificationDraft(
                    dedupe_key=f"outage:{outage.pk}:complaint:{ticket['pk']}",
                    subject=_("停电已超过 %(hours)s 小时，客户“%(customer)s”来电投诉（工单 %(number)s）。")
                    % {
                        "hours": settings.OUTAGE_LONG_HOURS,
                        "customer": ticket["customer__name"],
                        "number": ticket["number"],
                    },
                    recipient_id=outage.created_by_id,
                )
                for ticket in tickets
            ]
        )


def complaints_link_ticket(ticket: Ticket, *, now: datetime | None = None) -> int:
    """Link one new order to every outage it complains about (called after it is saved)."""
    if ticket.category != Category.OUTAGE:
        return 0
    now = now or timezone.now()
    outages = _candidates(now).filter(affected__customer_id=ticket.customer_id)
    linked = 0
    with transaction.atomic():
        for outage in outages:
            linked += _link(outage, Ticket.objects.filter(pk=ticket.pk), now)
    return linked


def complaints_sweep(*, now: datetime | None = None) -> int:
    """Every minute: link what the per-order hook missed (an order opened
    before a fault outage was published, a hook lost to a crash)."""
    now = now or timezone.now()
    linked = 0
    for outage in _candidates(now).order_by(F("actual_start").desc(nulls_last=True))[:SWEEP_LIMIT]:
        with transaction.atomic():
            linked += _link(outage, Ticket.objects.all(), now)
    return linked
