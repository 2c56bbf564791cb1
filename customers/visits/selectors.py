"""Reads of visits that pages and the API share, and the customers due a routine visit."""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from customers.models import Customer, Interaction, Visit


def visit_queryset(*, user: User) -> QuerySet[Visit]:
    return (
        Visit.objects.visible_to(user)
        .filter(Q(customer__isnull=True) | Q(customer__deleted_at__isnull=True))
        .select_related("customer", "staff", "district")
    )


def visit_of(*, user: User, pk: int) -> Visit:
    """One visible visit; 404 when out of scope."""
    return get_object_or_404(visit_queryset(user=user), pk=pk)


def week_bounds(day: date) -> tuple[datetime, datetime]:
    monday = day - timedelta(days=day.weekday())
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, start + timedelta(days=7)


def visits_of_week(*, user: User, day: date | None = None) -> list[Visit]:
    """The user's own visits of the week holding `day` (Monday to Sunday), earliest first, one query."""
    start, end = week_bounds(day or timezone.localdate())
    return list(
        visit_queryset(user=user)
        .filter(staff=user, scheduled_at__gte=start, scheduled_at__lt=end)
        .order_by("scheduled_at", "id")
    )


def overdue_visits(*, user: User, day: date | None = None) -> list[Visit]:
    """The user's open visits planned before this week."""
    start, _end = week_bounds(day or timezone.localdate())
    return list(
        visit_queryset(user=user)
        .open()
        .filter(staff=user, scheduled_at__lt=start)
        .order_by("scheduled_at", "id")
    )


def routine_visit_candidates(*, now: datetime | None = None) -> QuerySet[Customer]:
    """Sensitive customers with a manager and no visit and no one-to-one contact in ROUTINE_VISIT_DAYS.

    A visit counts when it was planned or done within the period or is planned
    for later; a contact counts on a one-to-one channel (phone, private chat,
    SMS, visit).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ROUTINE_VISIT_DAYS)
    recent_visit = Visit.objects.filter(customer=OuterRef("pk")).filter(
        Q(scheduled_at__gte=cutoff) | Q(done_at__gte=cutoff)
    )
    recent_contact = Interaction.objects.filter(
        customer=OuterRef("pk"),
        channel__in=Interaction.ONE_TO_ONE_CHANNELS,
        occurred_at__gte=cutoff,
    )
    return (
        Customer.objects.sensitive()
        .filter(manager__isnull=False, manager__is_active=True)
        .exclude(Exists(recent_visit))
        .exclude(Exists(recent_contact))
    )
