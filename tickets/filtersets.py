"""How work orders are filtered: one filter set for /api/v1/tickets/ and the list page.

`TicketFilterSet` holds the API's parameters: typed, several values of one
filter separated by commas, a bad value refused with a 400. The list page reads
`TicketListFilterSet`, the same rules in the filter bar's form: units and
assignees by id among the user's choices, days rather than moments, the
return-visit and urging filters, a bad value ignored.
"""

from datetime import date, datetime, time, timedelta

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from accounts.choices import staff_for, units_for
from accounts.models import OrgUnit, User
from accounts.scoping import unit_subtree_ids
from core.api.filters import (
    ApiFilterSet,
    CharInFilter,
    ChoiceInFilter,
    IdInFilter,
    PageFilterMixin,
    YesNoFilter,
    moment_after,
    moment_before,
)
from core.forms import with_detail
from core.pickers import PickerSelect
from tickets.models import (
    OPEN_STATUSES,
    UNSIGNED_STATUSES,
    Category,
    Kind,
    ReturnVisit,
    Source,
    Status,
    Ticket,
    TicketEvent,
    Urgency,
)
from tickets.satisfaction import (
    CHANNEL_CHOICES,
    SEGMENT_CHOICES,
    channel_q,
    coverage_visits,
    satisfaction_visits,
    segment_q,
)
from tickets.search import OrderSearch, order_search

STATUS_CHOICES = [("open", "open"), ("closed", "closed"), *Status.choices]


def statuses_named(value: str | list[str]) -> set[str]:
    """The statuses a status filter names; `open`, `closed` and `unsigned` stand for their group."""
    values = [value] if isinstance(value, str) else value
    statuses = {status for status in values if status in Status.values}
    if "open" in values:
        statuses |= set(OPEN_STATUSES)
    if "closed" in values:
        statuses |= set(Status.values) - set(OPEN_STATUSES)
    if "unsigned" in values:
        statuses |= set(UNSIGNED_STATUSES)
    return statuses


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

    def __init__(self, data=None, queryset=None, *, now: datetime | None = None, **kwargs):
        super().__init__(data, queryset, **kwargs)
        # The deadline filters and the list's order read the same moment.
        self.now = now or timezone.now()
        # What the text filter found, once the filters ran (tickets.search).
        self.search: OrderSearch | None = None

    @property
    def by_unit(self) -> bool:
        """Whether the filtered orders are worth reading unit by unit: not when the text
        filter listed its few matches by id (a read per unit would test each unit's rows)."""
        return self.search is None or not self.search.listed

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        if not term:
            return queryset
        self.search = order_search(term, orders=queryset)
        return queryset.filter(self.search.condition)

    def filter_status(self, queryset: QuerySet, name: str, value: str | list[str]) -> QuerySet:
        """Statuses; `open` and `closed` stand for every status of that group."""
        return queryset.filter(status__in=statuses_named(value))

    def filter_org_unit(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        condition = Q(pk__in=[])
        for code in value:
            condition |= Q(org_unit__path__contains=f"/{code}/")
        return queryset.filter(condition)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.overdue(now=self.now)
        return queryset.exclude(pk__in=Ticket.objects.overdue(now=self.now).values("pk"))

    def filter_near_deadline(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.near_deadline(now=self.now)
        return queryset.exclude(pk__in=Ticket.objects.near_deadline(now=self.now).values("pk"))


# --- The list page ----------------------------------------------------------------------

PAGE_STATUS_CHOICES = [
    ("open", _("全部未办结")),
    ("closed", _("全部已办结")),
    ("unsigned", _("全部未签收")),
    *Status.choices,
]
DEADLINE_CHOICES = [
    ("attention", _("已超时或即将超时")),
    ("overdue", _("已超时")),
    ("near", _("即将超时")),
]
VISITED_CHOICES = [("yes", _("已回访")), ("no", _("未回访"))]
# "happy" is what the dashboard's satisfaction rate counts as satisfied.
HAPPY = "happy"
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


def day_start_or_none(day: date | None) -> datetime | None:
    return day_start(day) if day else None


def day_end_or_none(day: date | None) -> datetime | None:
    return day_end(day) if day else None


class DayInput(forms.DateInput):
    input_type = "date"


def day_filter(label, method: str = "filter_days") -> filters.DateFilter:
    return filters.DateFilter(method=method, label=label, widget=DayInput(format="%Y-%m-%d"))


class StaffChoiceField(forms.ModelChoiceField):
    # As the staff picker names them: 张三（雷山供电所）.
    def label_from_instance(self, obj: User) -> str:
        name = obj.real_name or obj.username
        return with_detail(name, obj.org_unit) if obj.org_unit_id else name


class StaffFilter(filters.ModelChoiceFilter):
    field_class = StaffChoiceField


class TicketListFilterSet(PageFilterMixin, TicketFilterSet):
    """The work-order list's filter bar (GET parameters)."""

    page_filters = (
        "q",
        "status",
        "deadline",
        "kind",
        "category",
        "urgency",
        "source",
        "org_unit",
        "unit",
        "assignee",
        "segment",
        "repeat",
        "urged",
        "created_after",
        "created_before",
        "signed_after",
        "signed_before",
        "resolved_after",
        "resolved_before",
        "urged_after",
        "urged_before",
        "visited",
        "satisfaction",
        "channel",
        "visit_due_after",
        "visit_due_before",
        "visited_after",
        "visited_before",
    )
    search_placeholder = _("工单编号、标题、客户名称或户号")

    q = filters.CharFilter(method="filter_q", label=_("搜索"))
    status = filters.ChoiceFilter(
        choices=PAGE_STATUS_CHOICES, method="filter_status", label=_("状态"), empty_label=_("全部状态")
    )
    deadline = filters.ChoiceFilter(
        choices=DEADLINE_CHOICES, method="filter_deadline", label=_("时限"), empty_label=_("不限")
    )
    kind = filters.ChoiceFilter(choices=Kind.choices, label=_("工单类型"), empty_label=_("全部类型"))
    category = filters.ChoiceFilter(choices=Category.choices, label=_("业务分类"), empty_label=_("全部分类"))
    urgency = filters.ChoiceFilter(choices=Urgency.choices, label=_("紧急程度"), empty_label=_("全部"))
    source = filters.ChoiceFilter(choices=Source.choices, label=_("来源"), empty_label=_("全部来源"))
    org_unit = filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.none(),
        method="filter_unit",
        label=_("责任单位"),
        empty_label=_("全部单位"),
    )
    # A figure's link names one unit exactly (the order's own unit, not its subtree).
    unit = filters.NumberFilter(
        field_name="org_unit_id",
        label=_("单位"),
        widget=forms.HiddenInput,
        min_value=1,
        max_value=2**31 - 1,
        max_digits=10,
        decimal_places=0,
    )
    assignee = StaffFilter(
        queryset=User.objects.none(),
        label=_("处理人"),
        empty_label=_("全部处理人"),
        widget=PickerSelect("accounts:picker_staff"),
    )
    segment = filters.ChoiceFilter(
        choices=SEGMENT_CHOICES, method="filter_segment", label=_("客户类别"), empty_label=_("全部类别")
    )
    repeat = YesNoFilter(
        yes=_("仅重复投诉"),
        no=_("非重复投诉"),
        field_name="is_repeat",
        label=_("重复投诉"),
        empty_label=_("不限"),
    )
    urged = YesNoFilter(
        yes=_("被催办过"), no=_("未被催办"), method="filter_urged", label=_("催办"), empty_label=_("不限")
    )
    created_after = day_filter(_("受理日期自"))
    created_before = day_filter(_("受理日期至"))
    signed_after = day_filter(_("签收日期自"))
    signed_before = day_filter(_("签收日期至"))
    resolved_after = day_filter(_("办结日期自"))
    resolved_before = day_filter(_("办结日期至"))
    urged_after = day_filter(_("催办日期自"), "filter_urged_days")
    urged_before = day_filter(_("催办日期至"), "filter_urged_days")
    visited = filters.ChoiceFilter(
        choices=VISITED_CHOICES, method="filter_return_visit_part", label=_("回访"), empty_label=_("不限")
    )
    satisfaction = filters.ChoiceFilter(
        choices=SATISFACTION_CHOICES,
        method="filter_return_visit_part",
        label=_("回访结果"),
        empty_label=_("不限"),
    )
    channel = filters.ChoiceFilter(
        choices=CHANNEL_CHOICES,
        method="filter_return_visit_part",
        label=_("评价方式"),
        empty_label=_("不限"),
    )
    visit_due_after = day_filter(_("回访时限自"), "filter_return_visit_part")
    visit_due_before = day_filter(_("回访时限至"), "filter_return_visit_part")
    visited_after = day_filter(_("回访日期自"), "filter_return_visit_part")
    visited_before = day_filter(_("回访日期至"), "filter_return_visit_part")

    def __init__(self, data=None, queryset=None, *, user: User, now: datetime, **kwargs):
        super().__init__(data, queryset, now=now, **kwargs)
        self.user = user
        self.filters["org_unit"].queryset = units_for(user)
        self.filters["assignee"].queryset = staff_for(user).select_related("org_unit")

    def statuses_left(self) -> set[str]:
        """The statuses an order may have and still match the filters (once the
        filters have run): the list skips a part that cannot hold any."""
        data = self.form.cleaned_data
        left = statuses_named(data["status"]) if data.get("status") else set(Status.values)
        if data.get("deadline"):
            left &= set(OPEN_STATUSES)
        return left

    def filter_deadline(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """`overdue`, `near` (past the warning point), or `attention` for either."""
        if value == "overdue":
            return queryset.overdue(now=self.now)
        if value == "near":
            return queryset.near_deadline(now=self.now)
        return queryset.overdue(now=self.now) | queryset.near_deadline(now=self.now)

    def filter_unit(self, queryset: QuerySet, name: str, value: OrgUnit) -> QuerySet:
        return queryset.filter(org_unit__in=unit_subtree_ids(value.pk))

    def filter_segment(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(segment_q(value))

    def filter_urged(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(urge_count__gt=0) if value else queryset.filter(urge_count=0)

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
        visited_before], made or not (`visited`). With a result (`satisfaction`) or a
        channel, the visit is the order's latest made within [visited_after,
        visited_before]; `visited` with a due range reads the order's latest visit
        due in it (tickets.satisfaction), as the dashboard counts them."""
        data = self.form.cleaned_data
        conditions = Q()
        window: dict[str, datetime | None] = {"visited_after": None, "visited_before": None}
        for name, field in VISIT_DAY_BOUNDS.items():
            if not data.get(name):
                continue
            after = name.endswith("_after")
            moment = day_start(data[name]) if after else day_end(data[name])
            if moment is not None:
                conditions &= Q(**{f"{field}__{'gte' if after else 'lt'}": moment})
                if name in window:
                    window[name] = moment
        if data.get("visited"):
            conditions &= Q(visited_at__isnull=data["visited"] == "no")
        satisfaction, channel = data.get("satisfaction"), data.get("channel")
        due = (day_start_or_none(data.get("visit_due_after")), day_end_or_none(data.get("visit_due_before")))
        if data.get("visited") and any(due) and not (satisfaction or channel):
            # Made or not by the order's latest visit due in the range, as the coverage counts.
            visits = coverage_visits(ReturnVisit.objects.all(), *due)
            return queryset.filter(pk__in=visits.filter(conditions).values("ticket_id"))
        if satisfaction or channel:
            visits = satisfaction_visits(
                ReturnVisit.objects.all(), window["visited_after"], window["visited_before"]
            )
            if satisfaction:
                results = ReturnVisit.SATISFIED_RESULTS if satisfaction == HAPPY else [satisfaction]
                conditions &= Q(result__in=results)
            if channel:
                conditions &= channel_q(channel)
            return queryset.filter(pk__in=visits.filter(conditions).values("ticket_id"))
        if not conditions:
            return queryset
        return queryset.filter(Exists(ReturnVisit.objects.filter(conditions, ticket=OuterRef("pk"))))
