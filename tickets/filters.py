"""The work-order list's search and filters (GET parameters)."""

from datetime import datetime

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit, User
from tickets.models import OPEN_STATUSES, Category, Kind, Source, Status, Ticket, Urgency
from tickets.selectors import staff_for, units_for

STATUS_CHOICES = [
    ("open", _("全部未办结")),
    ("closed", _("全部已办结")),
    *Status.choices,
]
DEADLINE_CHOICES = [
    ("attention", _("已超时或即将超时")),
    ("overdue", _("已超时")),
    ("near", _("即将超时")),
]
REPEAT_CHOICES = [("1", _("仅重复投诉")), ("0", _("非重复投诉"))]


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.real_name or obj.username


class StaffFilter(django_filters.ModelChoiceFilter):
    field_class = StaffChoiceField


class TicketFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label=_("搜索"))
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", label=_("状态"), empty_label=_("全部状态")
    )
    deadline = django_filters.ChoiceFilter(
        choices=DEADLINE_CHOICES, method="filter_deadline", label=_("时限"), empty_label=_("不限")
    )
    kind = django_filters.ChoiceFilter(choices=Kind.choices, label=_("工单类型"), empty_label=_("全部类型"))
    category = django_filters.ChoiceFilter(
        choices=Category.choices, label=_("业务分类"), empty_label=_("全部分类")
    )
    urgency = django_filters.ChoiceFilter(choices=Urgency.choices, label=_("紧急程度"), empty_label=_("全部"))
    source = django_filters.ChoiceFilter(choices=Source.choices, label=_("来源"), empty_label=_("全部来源"))
    org_unit = django_filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.none(),
        method="filter_unit",
        label=_("责任单位"),
        empty_label=_("全部单位"),
    )
    assignee = StaffFilter(queryset=User.objects.none(), label=_("处理人"), empty_label=_("全部处理人"))
    repeat = django_filters.ChoiceFilter(
        choices=REPEAT_CHOICES, method="filter_repeat", label=_("重复投诉"), empty_label=_("不限")
    )

    class Meta:
        model = Ticket
        fields = [
            "q",
            "status",
            "deadline",
            "kind",
            "category",
            "urgency",
            "source",
            "org_unit",
            "assignee",
            "repeat",
        ]

    def __init__(self, data=None, queryset=None, *, user: User, now: datetime, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user = user
        # The deadline filters and the list's order use the same moment.
        self.now = now
        self.filters["org_unit"].queryset = units_for(user)
        self.filters["assignee"].queryset = staff_for(user)

    @property
    def form(self):
        form = super().form
        for field in form.fields.values():
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
        form.fields["q"].widget.attrs.setdefault("placeholder", _("工单编号、标题、客户名称或户号"))
        form.fields["q"].widget.input_type = "search"
        return form

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(
            Q(number__icontains=term)
            | Q(title__icontains=term)
            | Q(customer__name__icontains=term)
            | Q(customer__number__startswith=term)
        )

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return queryset.filter(status__in=OPEN_STATUSES)
        if value == "closed":
            return queryset.exclude(status__in=OPEN_STATUSES)
        return queryset.filter(status=value)

    def filter_deadline(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "overdue":
            return queryset.overdue(now=self.now)
        if value == "near":
            return queryset.near_deadline(now=self.now)
        return queryset.overdue(now=self.now) | queryset.near_deadline(now=self.now)

    def filter_unit(self, queryset: QuerySet, name: str, value: OrgUnit) -> QuerySet:
        return queryset.filter(org_unit__path__startswith=value.path)

    def filter_repeat(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(is_repeat=value == "1")
