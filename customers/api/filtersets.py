"""Query filters of /api/v1/customers/. Several values of one filter are separated by commas."""

from django import forms
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
from customers.models import Customer
from customers.selectors import search_condition


class NumberInFilter(filters.BaseInFilter, filters.NumberFilter):
    # Whole numbers only: the tiers are integers, and "1.5" is bad input rather than no match.
    field_class = forms.IntegerField


class CustomerFilterSet(ApiFilterSet):
    q = filters.CharFilter(
        method="filter_q", label="Name or address contains, number starts with, or a contact has this phone"
    )
    number = CharInFilter(field_name="number", label="Customer numbers")
    station = CharInFilter(field_name="station__code", label="Station codes")
    station_id = IdInFilter(field_name="station_id", label="Station ids")
    district = CharInFilter(field_name="district__code", label="District codes")
    district_id = IdInFilter(field_name="district_id", label="District ids")
    line = CharInFilter(field_name="line__code", label="Line codes")
    line_id = IdInFilter(field_name="line_id", label="Line ids")
    manager = CharInFilter(field_name="manager__username", label="Account managers' usernames")
    manager_id = IdInFilter(field_name="manager_id", label="Account managers' ids")
    kind = ChoiceInFilter(choices=Customer.Kind.choices, label="Kinds")
    segment = ChoiceInFilter(choices=Customer.Segment.choices, label="Segments")
    voltage = ChoiceInFilter(choices=Customer.Voltage.choices, label="Voltage levels")
    vip_tier = NumberInFilter(field_name="vip_tier", label="VIP tiers")
    is_high_sensitivity = filters.BooleanFilter()
    is_important = filters.BooleanFilter()
    is_key_attention = filters.BooleanFilter()
    is_special = filters.BooleanFilter()
    is_sensitive = filters.BooleanFilter()
    sensitive = filters.BooleanFilter(
        method="filter_sensitive", label="Any sensitivity flag set or VIP (true), or none (false)"
    )
    wechat_bound = filters.BooleanFilter()
    stale = filters.BooleanFilter(
        method="filter_stale", label="Not verified within ARCHIVE_STALE_DAYS (true) or verified since (false)"
    )
    incomplete = filters.BooleanFilter(
        method="filter_incomplete", label="Completeness below 100 (true) or 100 (false)"
    )
    verified_before = moment_before("verified_at", "Verified before this time (ISO 8601)")
    verified_after = moment_after("verified_at", "Verified at or after this time (ISO 8601)")
    updated_after = moment_after("updated_at", "Updated at or after this time (ISO 8601)")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(search_condition(value)) if value.strip() else queryset

    def filter_sensitive(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.sensitive()
        return queryset.exclude(pk__in=Customer.all_objects.sensitive().values("pk"))

    def filter_stale(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.stale() if value else queryset.fresh()

    def filter_incomplete(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.incomplete() if value else queryset.filter(completeness__gte=100)
