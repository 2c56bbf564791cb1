"""The customer list's search and filters (GET parameters), shared by the page and the export."""

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit, User
from customers.models import SENSITIVITY_FLAGS, Customer, District
from customers.selectors import assignable_managers, districts_for, search_condition, stations_for

SENSITIVITY_CHOICES = [
    ("any", _("任一敏感标识或VIP")),
    *[(flag, Customer._meta.get_field(flag).verbose_name) for flag in SENSITIVITY_FLAGS],
    ("vip", _("VIP客户")),
]
STALE_CHOICES = [("1", _("过期或未核实")), ("0", _("核实有效"))]
INCOMPLETE_CHOICES = [("1", _("不完整")), ("0", _("完整"))]


class CustomerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label=_("搜索"))
    station = django_filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.none(), label=_("供电所"), empty_label=_("全部供电所")
    )
    district = django_filters.ModelChoiceFilter(
        queryset=District.objects.none(), label=_("台区"), empty_label=_("全部台区")
    )
    kind = django_filters.ChoiceFilter(
        choices=Customer.Kind.choices, label=_("用电类别"), empty_label=_("全部类别")
    )
    segment = django_filters.ChoiceFilter(
        choices=Customer.Segment.choices, label=_("城乡"), empty_label=_("城市和农村")
    )
    sensitivity = django_filters.ChoiceFilter(
        choices=SENSITIVITY_CHOICES,
        method="filter_sensitivity",
        label=_("敏感标识"),
        empty_label=_("不限"),
    )
    stale = django_filters.ChoiceFilter(
        choices=STALE_CHOICES, method="filter_stale", label=_("档案新鲜度"), empty_label=_("不限")
    )
    incomplete = django_filters.ChoiceFilter(
        choices=INCOMPLETE_CHOICES,
        method="filter_incomplete",
        label=_("档案完整度"),
        empty_label=_("不限"),
    )
    manager = django_filters.ModelChoiceFilter(
        queryset=User.objects.none(), label=_("客户经理"), empty_label=_("全部客户经理")
    )

    class Meta:
        model = Customer
        fields = [
            "q",
            "station",
            "district",
            "kind",
            "segment",
            "sensitivity",
            "stale",
            "incomplete",
            "manager",
        ]

    def __init__(self, data=None, queryset=None, *, user, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user = user
        # Choice lists come from the user, not the request, so the selector works without one.
        self.filters["station"].queryset = stations_for(user)
        self.filters["district"].queryset = districts_for(user)
        self.filters["manager"].queryset = assignable_managers(user)

    @property
    def form(self):
        form = super().form
        for field in form.fields.values():
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
        form.fields["q"].widget.attrs.setdefault("placeholder", _("姓名、户号、电话、地址"))
        form.fields["q"].widget.input_type = "search"
        return form

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(search_condition(value)) if value.strip() else queryset

    def filter_sensitivity(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "any":
            return queryset.sensitive()
        if value == "vip":
            return queryset.filter(vip_tier__gt=0)
        if value in SENSITIVITY_FLAGS:
            return queryset.filter(**{value: True})
        return queryset

    def filter_stale(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.stale() if value == "1" else queryset.fresh()

    def filter_incomplete(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.incomplete() if value == "1" else queryset.filter(completeness__gte=100)
