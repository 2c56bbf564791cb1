"""The work-order list's search and filters (GET parameters)."""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit, User
from tickets.models import (
    OPEN_STATUSES,
    Category,
    Kind,
    ReturnVisit,
    Source,
    Status,
    Ticket,
    TicketEvent,
    Urgency,
)
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
URGED_CHOICES = [("1", _("被催办过")), ("0", _("未被催办"))]
VISITED_CHOICES = [("yes", _("已回访")), ("no", _("未回访"))]
# "happy" is what the dashboard's satisfaction rate counts as satisfied.
HAPPY = "happy"
HAPPY_RESULTS = [ReturnVisit.Result.SATISFIED, ReturnVisit.Result.BASICALLY]
SATISFACTION_CHOICES = [(HAPPY, _("满意或基本满意")), *ReturnVisit.Result.choices]
# The return-visit filters and the visit field each one bounds.
VISIT_DAY_BOUNDS = {
    "visit_due_after": "due_at",
    "visit_due_before": "due_at",
    "visited_after": "visited_at",
    "visited_before": "visited_at",
}
# Days outside these years are ignored like any other bad value.
MIN_YEAR, MAX_YEAR = 1900, 9000


def day_start(day: date) -> datetime | None:
    """Local midnight at the start of `day`; None for a day too far off to bound anything."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def day_end(day: date) -> datetime | None:
    """Local midnight at the end of `day` (None as for day_start)."""
    return day_start(day + timedelta(days=1)) if day_start(day) else None


class DayInput(forms.DateInput):
    input_type = "date"


def day_filter(label) -> django_filters.DateFilter:
    return django_filters.DateFilter(method="filter_days", label=label, widget=DayInput(format="%Y-%m-%d"))


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
    urged = django_filters.ChoiceFilter(
        choices=URGED_CHOICES, method="filter_urged", label=_("催办"), empty_label=_("不限")
    )
    created_after = day_filter(_("受理日期自"))
    created_before = day_filter(_("受理日期至"))
    resolved_after = day_filter(_("办结日期自"))
    resolved_before = day_filter(_("办结日期至"))
    urged_after = django_filters.DateFilter(
        method="filter_urged_days", label=_("催办日期自"), widget=DayInput(format="%Y-%m-%d")
    )
    urged_before = django_filters.DateFilter(
        method="filter_urged_days", label=_("催办日期至"), widget=DayInput(format="%Y-%m-%d")
    )
    visited = django_filters.ChoiceFilter(
        choices=VISITED_CHOICES, method="filter_return_visit_part", label=_("回访"), empty_label=_("不限")
    )
    satisfaction = django_filters.ChoiceFilter(
        choices=SATISFACTION_CHOICES,
        method="filter_return_visit_part",
        label=_("回访结果"),
        empty_label=_("不限"),
    )
    visit_due_after = django_filters.DateFilter(
        method="filter_return_visit_part", label=_("回访时限自"), widget=DayInput(format="%Y-%m-%d")
    )
    visit_due_before = django_filters.DateFilter(
        method="filter_return_visit_part", label=_("回访时限至"), widget=DayInput(format="%Y-%m-%d")
    )
    visited_after = django_filters.DateFilter(
        method="filter_return_visit_part", label=_("回访日期自"), widget=DayInput(format="%Y-%m-%d")
    )
    visited_before = django_filters.DateFilter(
        method="filter_return_visit_part", label=_("回访日期至"), widget=DayInput(format="%Y-%m-%d")
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
            "urged",
            "created_after",
            "created_before",
            "resolved_after",
            "resolved_before",
            "urged_after",
            "urged_before",
            "visited",
            "satisfaction",
            "visit_due_after",
            "visit_due_before",
            "visited_after",
            "visited_before",
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

    def filter_urged(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(urge_count__gt=0) if value == "1" else queryset.filter(urge_count=0)

    def filter_days(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        """`<field>_after` from local midnight of that day, `<field>_before` up to the end of that day."""
        field, _sep, side = name.rpartition("_")
        moment = day_start(value) if side == "after" else day_end(value)
        if moment is None:
            return queryset
        return queryset.filter(**{f"{field}_at__{'gte' if side == 'after' else 'lt'}": moment})

    def filter_urged_days(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        """Orders urged at least once within [urged_after, urged_before] (both bounds in one event)."""
        if name == "urged_before" and self.form.cleaned_data.get("urged_after"):
            return queryset
        urges = TicketEvent.objects.filter(ticket=OuterRef("pk"), action=TicketEvent.Action.URGED)
        after, before = self.form.cleaned_data.get("urged_after"), self.form.cleaned_data.get("urged_before")
        start = day_start(after) if after else None
        end = day_end(before) if before else None
        if start is None and end is None:
            return queryset
        if start is not None:
            urges = urges.filter(created_at__gte=start)
        if end is not None:
            urges = urges.filter(created_at__lt=end)
        return queryset.filter(Exists(urges))

    def filter_return_visit_part(self, queryset: QuerySet, name: str, value) -> QuerySet:
        """One condition on a return visit; filter_return_visits applies them together."""
        return queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return self.filter_return_visits(super().filter_queryset(queryset))

    def filter_return_visits(self, queryset: QuerySet) -> QuerySet:
        """Orders with one return visit meeting every return-visit filter given: due
        within [visit_due_after, visit_due_before], made within [visited_after,
        visited_before], made or not (`visited`), with the result `satisfaction`."""
        data = self.form.cleaned_data
        conditions = Q()
        for name, field in VISIT_DAY_BOUNDS.items():
            if not data.get(name):
                continue
            after = name.endswith("_after")
            moment = day_start(data[name]) if after else day_end(data[name])
            if moment is not None:
                conditions &= Q(**{f"{field}__{'gte' if after else 'lt'}": moment})
        if data.get("visited"):
            conditions &= Q(visited_at__isnull=data["visited"] == "no")
        if data.get("satisfaction"):
            results = HAPPY_RESULTS if data["satisfaction"] == HAPPY else [data["satisfaction"]]
            conditions &= Q(result__in=results)
        if not conditions:
            return queryset
        return queryset.filter(Exists(ReturnVisit.objects.filter(conditions, ticket=OuterRef("pk"))))
