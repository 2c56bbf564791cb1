"""How service groups and their messages are filtered, for /api/v1/groups/ and the group list page.

Several values of one filter are separated by commas. The API refuses a bad
value with a 400; the list page ignores it.
"""

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from core.api.filters import (
    ApiFilterSet,
    CharInFilter,
    ChoiceInFilter,
    IdInFilter,
    moment_after,
    moment_before,
)
from groups.models import GroupKind, GroupMessage, ServiceGroup


class GroupFilterSet(ApiFilterSet):
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    kind = ChoiceInFilter(choices=GroupKind.choices, label="Kinds")
    owner = IdInFilter(field_name="owner_id", label="Owners' user ids")
    owner_username = CharInFilter(field_name="owner__username", label="Owners' usernames")
    org_unit = CharInFilter(field_name="org_unit__code", label="Org unit codes")
    district = CharInFilter(field_name="district__code", label="District codes")
    line = CharInFilter(field_name="line__code", label="Line codes")
    zombie = filters.BooleanFilter(
        field_name="is_zombie", label="Zombie groups (true) or healthy ones (false), by the health figures"
    )
    archived = filters.BooleanFilter(
        method="filter_archived", label="Archived groups (true) or active ones (false); default: active"
    )
    external_id = CharInFilter(field_name="external_id", label="WeChat group ids")

    class Meta:
        model = ServiceGroup
        fields: list[str] = []

    def filter_archived(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(archived_at__isnull=not value)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.form.cleaned_data.get("archived") is None:
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)


class MessageFilterSet(ApiFilterSet):
    is_inquiry = filters.BooleanFilter(label="Inquiries (true) or other messages (false)")
    unanswered = filters.BooleanFilter(
        method="filter_unanswered", label="Inquiries waiting for an answer (true) or not (false)"
    )
    sender_kind = filters.ChoiceFilter(choices=[("customer", "customer"), ("staff", "staff")])
    sent_after = moment_after("sent_at", "Sent at or after")
    sent_before = moment_before("sent_at", "Sent before")
    external_id = CharInFilter(field_name="external_id", label="Original message ids")

    class Meta:
        model = GroupMessage
        fields: list[str] = []

    def filter_unanswered(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        waiting = {"is_inquiry": True, "answered_at__isnull": True}
        return queryset.filter(**waiting) if value else queryset.exclude(**waiting)
