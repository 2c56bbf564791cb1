"""Query filters of /api/v1/tickets/. Several values of one filter are separated by commas."""

from django.db.models import Q, QuerySet
from django.utils import timezone
from django_filters import rest_framework as filters

from core.api.filters import (
    ApiFilterSet,
    CharInFilter,
    ChoiceInFilter,
    IdInFilter,
    moment_after,
    moment_before,
)
from tickets.models import OPEN_STATUSES, Category, Kind, Source, Status, Ticket, Urgency

STATUS_CHOICES = [("open", "open"), ("closed", "closed"), *Status.choices]


class TicketFilterSet(ApiFilterSet):
    q = filters.CharFilter(
        method="filter_q",
        label="Order number or title contains, customer name contains, or customer number starts with",
    )
    number = CharInFilter(field_name="number", label="Order numbers")
    status = ChoiceInFilter(
        choices=STATUS_CHOICES, method="filter_status", label="Statuses; `open` and `closed` name the groups"
    )
    kind = ChoiceInFilter(choices=Kind.choices, label="Kinds")
    category = ChoiceInFilter(choices=Category.choices, label="Categories")
    urgency = ChoiceInFilter(choices=Urgency.choices, label="Urgency levels (0, 1, 2)")
    source = ChoiceInFilter(choices=Source.choices, label="Sources")
    external_id = CharInFilter(field_name="external_id", label="External order ids")
    org_unit = CharInFilter(method="filter_org_unit", label="Unit codes; each includes the units below it")
    org_unit_id = IdInFilter(field_name="org_unit_id", label="Unit ids (exactly those units)")
    assignee = CharInFilter(field_name="assignee__username", label="Assignees' usernames")
    assignee_id = IdInFilter(field_name="assignee_id", label="Assignees' ids")
    unassigned = filters.BooleanFilter(field_name="assignee", lookup_expr="isnull", label="No assignee")
    customer = CharInFilter(field_name="customer__number", label="Customer numbers")
    overdue = filters.BooleanFilter(
        method="filter_overdue", label="Open and past the running deadline (true) or not (false)"
    )
    near_deadline = filters.BooleanFilter(
        method="filter_near_deadline",
        label="Open, past the warning point, not yet overdue (true) or not (false)",
    )
    repeat = filters.BooleanFilter(field_name="is_repeat", label="Repeat complaints (true) or not (false)")
    created_after = moment_after("created_at", "Opened at or after this time (ISO 8601)")
    created_before = moment_before("created_at", "Opened before this time (ISO 8601)")
    updated_after = moment_after("updated_at", "Changed at or after this time (ISO 8601)")

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(
            Q(number__icontains=term)
            | Q(title__icontains=term)
            | Q(customer__name__icontains=term)
            | Q(customer__number__startswith=term)
        )

    def filter_status(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        statuses = {status for status in value if status in Status.values}
        if "open" in value:
            statuses |= set(OPEN_STATUSES)
        if "closed" in value:
            statuses |= set(Status.values) - set(OPEN_STATUSES)
        return queryset.filter(status__in=statuses)

    def filter_org_unit(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        condition = Q(pk__in=[])
        for code in value:
            condition |= Q(org_unit__path__contains=f"/{code}/")
        return queryset.filter(condition)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.overdue(now=self._now())
        return queryset.exclude(pk__in=Ticket.objects.overdue(now=self._now()).values("pk"))

    def filter_near_deadline(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.near_deadline(now=self._now())
        return queryset.exclude(pk__in=Ticket.objects.near_deadline(now=self._now()).values("pk"))

    def _now(self):
        if not hasattr(self, "now"):
            self.now = timezone.now()
        return self.now
