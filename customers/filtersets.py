"""How customers are filtered: one filter set for /api/v1/customers/ and the list page.

`CustomerFilterSet` holds the API's parameters: typed, several values of one
filter separated by commas, a bad value refused with a 400. The list page (and
its export) reads `CustomerListFilterSet`, the same rules in the filter bar's
form: stations, districts and managers by id among the user's choices, one
value per filter, a bad value ignored. `InteractionFilterSet` and
`VisitFilterSet` filter the contact log and visits of /api/v1/.
"""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from accounts.choices import account_managers_for, stations_for
from accounts.models import OrgUnit, User
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
from core.pickers import PickerSelect
from customers.forms import ManagerChoiceField
from customers.models import SENSITIVITY_FLAGS, Customer, District, Interaction, Visit
from customers.selectors import (
    SEARCH_MATCH_LIMIT,
    CustomerSearch,
    customer_search,
    districts_for,
    search_matches,
    search_term_problem,
)


def validate_search_term(value: str) -> None:
    """The API refuses a term too short to search, with the reason."""
    problem = search_term_problem(value) if value.strip() else ""
    if problem:
        raise ValidationError(problem, code="too_short")


class NumberInFilter(IdInFilter):
    # Whole numbers only: the tiers are integers, and "1.5" is bad input rather than no match;
    # a number beyond what the database holds matches nothing (as for ids), never a 500.
    pass


class CustomerFilterSet(ApiFilterSet):
    q = filters.CharFilter(
        method="filter_q",
        label=(
            "At least 4 digits: the number starts or ends with them, or a contact's mobile or landline "
            "contains them; otherwise at least 2 characters of the name or address. At most "
            f"{SEARCH_MATCH_LIMIT} matches."
        ),
        validators=[validate_search_term],
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
        # The matches join the page's query as a bounded subquery: no query of their own.
        # A term too short has already been refused by the field's validator.
        if not value.strip():
            return queryset
        return queryset.filter(pk__in=search_matches(value.strip(), queryset))

    def filter_sensitive(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.sensitive()
        return queryset.exclude(pk__in=Customer.all_objects.sensitive().values("pk"))

    def filter_stale(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.stale() if value else queryset.fresh()

    def filter_incomplete(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.incomplete() if value else queryset.filter(completeness__gte=100)


class ManagerFilter(filters.ModelChoiceFilter):
    # Named as the customer form and the manager picker name them: 张三（雷山供电所）.
    field_class = ManagerChoiceField


SENSITIVITY_CHOICES = [
    ("any", _("任一敏感标识或VIP")),
    *[(flag, Customer._meta.get_field(flag).verbose_name) for flag in SENSITIVITY_FLAGS],
    ("vip", _("VIP客户")),
]


class CustomerListFilterSet(PageFilterMixin, CustomerFilterSet):
    """The customer list's filter bar (GET parameters), shared by the page and its export."""

    page_filters = (
        "q",
        "station",
        "district",
        "kind",
        "segment",
        "sensitivity",
        "stale",
        "incomplete",
        "manager",
    )
    search_placeholder = _("户号、电话后4位、姓名或地址")

    q = filters.CharFilter(method="filter_q", label=_("搜索"))
    station = filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.none(), label=_("供电所"), empty_label=_("全部供电所")
    )
    district = filters.ModelChoiceFilter(
        queryset=District.objects.none(),
        label=_("台区"),
        empty_label=_("全部台区"),
        widget=PickerSelect("customers:picker_districts", params={"station": "station"}),
    )
    kind = filters.ChoiceFilter(choices=Customer.Kind.choices, label=_("用电类别"), empty_label=_("全部类别"))
    segment = filters.ChoiceFilter(
        choices=Customer.Segment.choices, label=_("城乡"), empty_label=_("城市和农村")
    )
    sensitivity = filters.ChoiceFilter(
        choices=SENSITIVITY_CHOICES,
        method="filter_sensitivity",
        label=_("敏感标识"),
        empty_label=_("不限"),
    )
    stale = YesNoFilter(
        yes=_("过期或未核实"),
        no=_("核实有效"),
        method="filter_stale",
        label=_("档案新鲜度"),
        empty_label=_("不限"),
    )
    incomplete = YesNoFilter(
        yes=_("不完整"),
        no=_("完整"),
        method="filter_incomplete",
        label=_("档案完整度"),
        empty_label=_("不限"),
    )
    manager = ManagerFilter(
        queryset=User.objects.none(),
        label=_("客户经理"),
        empty_label=_("全部客户经理"),
        widget=PickerSelect("accounts:picker_managers"),
    )

    def __init__(self, data=None, queryset=None, *, user: User, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user = user
        # Choice lists come from the user, not the request, so the selector works without one.
        self.filters["station"].queryset = stations_for(user)
        self.filters["district"].queryset = districts_for(user)
        self.filters["manager"].queryset = account_managers_for(user).select_related("org_unit")

    # What the last `q` found; the page shows its hint (term too short, too many matches).
    search: CustomerSearch | None = None

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value.strip():
            return queryset
        self.search = customer_search(value, customers=queryset)
        return queryset.filter(self.search.condition)

    def filter_sensitivity(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """One sensitivity flag, VIP, or any of them (`any`)."""
        if value == "any":
            return self.filter_sensitive(queryset, name, True)
        if value == "vip":
            return queryset.filter(vip_tier__gt=0)
        return queryset.filter(**{value: True})


class InteractionFilterSet(ApiFilterSet):
    customer = CharInFilter(field_name="customer__number", label="Customer numbers")
    staff = CharInFilter(field_name="staff__username", label="Staff usernames")
    staff_id = IdInFilter(field_name="staff_id", label="Staff ids")
    channel = ChoiceInFilter(choices=Interaction.Channel.choices, label="Channels")
    direction = ChoiceInFilter(choices=Interaction.Direction.choices, label="Directions")
    mood = ChoiceInFilter(choices=Interaction.Mood.choices, label="Moods")
    occurred_after = moment_after("occurred_at", "Contact at or after this time (ISO 8601)")
    occurred_before = moment_before("occurred_at", "Contact before this time (ISO 8601)")

    class Meta:
        model = Interaction
        fields: list[str] = []


class VisitFilterSet(ApiFilterSet):
    customer = CharInFilter(field_name="customer__number", label="Customer numbers")
    staff = CharInFilter(field_name="staff__username", label="Staff usernames")
    staff_id = IdInFilter(field_name="staff_id", label="Staff ids")
    district_id = IdInFilter(field_name="district_id", label="District ids (on-site visits in a long outage)")
    purpose = ChoiceInFilter(choices=Visit.Purpose.choices, label="Purposes")
    scheduled_after = moment_after("scheduled_at", "Planned at or after this time (ISO 8601)")
    scheduled_before = moment_before("scheduled_at", "Planned before this time (ISO 8601)")
    done = filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True, label="Completed")
    appointment_confirmed = filters.BooleanFilter()

    class Meta:
        model = Visit
        fields: list[str] = []
