"""How outages are filtered (/api/v1/outages/). Several values of one filter are separated by commas."""

from django.db.models import Q, QuerySet

from core.api.filters import ApiFilterSet, CharInFilter, ChoiceInFilter, moment_after, moment_before
from outages.models import Outage, OutageKind, OutageStatus


class OutageFilterSet(ApiFilterSet):
    status = ChoiceInFilter(choices=OutageStatus.choices, label="Statuses")
    kind = ChoiceInFilter(choices=OutageKind.choices, label="Kinds")
    external_id = CharInFilter(field_name="external_id", label="The dispatching system's ids")
    line = CharInFilter(method="filter_line", label="Line codes: outages of these lines or their districts")
    district = CharInFilter(method="filter_district", label="District codes: outages naming these districts")
    planned_start_after = moment_after("planned_start", "Planned to start at or after (ISO 8601)")
    planned_start_before = moment_before("planned_start", "Planned to start before (ISO 8601)")
    actual_start_after = moment_after("actual_start", "Started at or after (ISO 8601)")
    actual_start_before = moment_before("actual_start", "Started before (ISO 8601)")
    restored_after = moment_after("actual_end", "Power back at or after (ISO 8601)")
    created_after = moment_after("created_at", "Registered at or after (ISO 8601)")

    class Meta:
        model = Outage
        fields: list[str] = []

    def filter_line(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        through = Outage.lines.through.objects.filter(line__code__in=value).values("outage_id")
        by_district = Outage.districts.through.objects.filter(district__line__code__in=value).values(
            "outage_id"
        )
        return queryset.filter(Q(pk__in=through) | Q(pk__in=by_district))

    def filter_district(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        named = Outage.districts.through.objects.filter(district__code__in=value).values("outage_id")
        return queryset.filter(pk__in=named)
