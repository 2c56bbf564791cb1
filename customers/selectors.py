"""Reads of the customer archive shared by pages, exports and the API.

Everything starts from `Customer.objects.visible_to(user)`, so a customer out of
the user's scope is absent from lists and answers 404 on its own pages.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Case, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Replace, Reverse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.history import HistoryRow, format_value, records_with_predecessors
from core.lookups import contains_condition
from core.pagination import KeysetPage, first_ids_by_unit, keyset_paginate
from core.phones import mask_phone
from core.streaming import read_all
from customers.models import ARCHIVE_FIELDS, SENSITIVITY_FLAGS, Contact, Customer, District, Line
from customers.pinyin import pinyin_term

if TYPE_CHECKING:
    from customers.filtersets import CustomerListFilterSet

_DIGITS = re.compile(r"^\d+$")


# --- Choices a user may pick from -------------------------------------------
# Stations and account managers are units and people: accounts.choices.


def districts_for(user: User) -> QuerySet[District]:
    """Districts the user sees, with their station and line (what a form's checks read)."""
    return District.objects.visible_to(user).select_related("station", "line").order_by("code")


def lines_for(user: User) -> QuerySet[Line]:
    """Lines the user sees, with their station."""
    return Line.objects.visible_to(user).select_related("station").order_by("code")


# --- Phones -------------------------------------------------------------------


def phone_shown_to(user: User, customer: Customer, phone: str | None) -> str:
    """The owner of a customer sees phone numbers in full; everybody else sees them masked."""
    if not phone:
        return ""
    return phone if customer.owned_by(user) else mask_phone(phone)


# --- Search -------------------------------------------------------------------------

# Shorter terms match a large share of any archive and no index narrows them:
# the user is asked for more instead of the database scanning everything.
MIN_SEARCH_DIGITS = 4
MIN_SEARCH_CHARS = 2
# A caller is one customer among a handful; past this many matches the search
# answers with what it found and asks for a narrower term.
SEARCH_MATCH_LIMIT = 500

_SEPARATORS = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class CustomerSearch:
    """What a search term found among the customers a user sees.

    `ids` are the matching customers (at most SEARCH_MATCH_LIMIT); `hint`
    tells the user why nothing was searched (term too short) or that the
    answer is cut short (too many matches).
    """

    term: str
    ids: tuple[int, ...] = ()
    hint: str = ""
    too_many: bool = False

    @property
    def condition(self) -> Q:
        return Q(pk__in=self.ids)


def search_term_problem(term: str) -> str:
    """Why a term cannot be searched (in the user's language), or "" when it can."""
    term = term.strip()
    digits = _SEPARATORS.sub("", term)
    if _DIGITS.match(digits):
        if len(digits) < MIN_SEARCH_DIGITS:
            return _("请至少输入%(count)d位数字（户号或电话号码的一部分）。") % {"count": MIN_SEARCH_DIGITS}
        return ""
    if len(term) < MIN_SEARCH_CHARS:
        return _("请至少输入%(count)d个字（姓名或地址的一部分）。") % {"count": MIN_SEARCH_CHARS}
    return ""


def search_matches(term: str, customers: QuerySet[Customer]) -> QuerySet:
    """The query for the ids of `customers` the term matches, at most SEARCH_MATCH_LIMIT + 1.

    Digits (spaces and dashes ignored) match the start or the end of the
    户号, or any part of a contact's mobile or landline (landlines are stored
    with or without the dash after the area code, so the dash is ignored);
    anything else matches a part of the name or the address, and letters also a
    part of the name's pinyin, full or initials (customers.pinyin). Each branch reads
    one column through its own index (pg_trgm GIN indexes on PostgreSQL,
    migration 0008; the reversed 户号's btree, 0010): an OR across two tables' columns, or a customer's and a
    contact's, leaves the planner no single index and it scans. The branches
    are joined by UNION ALL so the database stops at the limit; the customers'
    own scope is part of each branch, so other units' matches never crowd out
    the user's own.
    """
    customers = customers.order_by()
    digits = _SEPARATORS.sub("", term)
    if _DIGITS.match(digits):
        landlines = Contact.objects.alias(landline_digits=Replace("landline", Value("-"), Value("")))
        branches = [
            # A suffix is the reversed number's prefix: a range on its btree (migration 0010).
            customers.alias(number_reversed=Reverse("number")).filter(
                Q(number__startswith=digits) | Q(number_reversed__startswith=digits[::-1])
            ),
            customers.filter(pk__in=Contact.objects.filter(mobile__contains=digits).values("customer_id")),
            customers.filter(pk__in=landlines.filter(landline_digits__contains=digits).values("customer_id")),
        ]
    else:
        branches = [
            customers.filter(contains_condition("name", term)),
            customers.filter(contains_condition("address", term)),
        ]
        pinyin = pinyin_term(term)
        if pinyin:
            # zhulixia or zlx → 朱丽霞: the stored pinyin, lower case (its trigram index, migration 0015).
            branches.append(customers.filter(contains_condition("name_pinyin", pinyin, "contains")))
    first, *others = [branch.values_list("pk", flat=True) for branch in branches]
    return first.union(*others, all=True)[: SEARCH_MATCH_LIMIT + 1]


def customer_search(term: str, *, customers: QuerySet[Customer]) -> CustomerSearch:
    """Search `customers` (already scoped to the user) for a caller's fragment.

    By 户号 prefix or suffix or any part of a contact's phone number (at least
    MIN_SEARCH_DIGITS digits), or by a part of the name or address or of the
    name's pinyin (at least MIN_SEARCH_CHARS characters). One query, or none for a term too short.
    """
    term = term.strip()
    problem = search_term_problem(term)
    if problem:
        return CustomerSearch(term=term, hint=problem)
    rows = list(search_matches(term, customers))
    # A customer found by two branches (its number and a phone) comes back twice: kept once.
    # The cut is decided on the rows, not the customers: past the limit the rest was never read.
    ids = list(dict.fromkeys(rows))
    if len(rows) > SEARCH_MATCH_LIMIT:
        hint = _("匹配过多，只列出其中%(count)d户，请缩小范围（输入更多数字或文字）。") % {
            "count": SEARCH_MATCH_LIMIT
        }
        return CustomerSearch(term=term, ids=tuple(ids[:SEARCH_MATCH_LIMIT]), hint=hint, too_many=True)
    return CustomerSearch(term=term, ids=tuple(ids))


# --- Lists ----------------------------------------------------------------------


def customer_queryset(*, user: User) -> QuerySet[Customer]:
    """Visible customers with what a list row shows, in one query: units, manager, primary phone."""
    primary = Contact.objects.filter(customer=OuterRef("pk"), is_primary=True)
    return (
        Customer.objects.visible_to(user)
        .select_related("station", "district", "line", "manager")
        .annotate(
            primary_contact_name=Subquery(primary.values("name")[:1]),
            primary_phone=Subquery(
                primary.annotate(phone=Case(When(mobile="", then=F("landline")), default=F("mobile"))).values(
                    "phone"
                )[:1]
            ),
        )
    )


def customer_filterset(*, user: User, params: Mapping[str, Any]) -> "CustomerListFilterSet":
    """The list filters bound to the request's parameters (its form renders the filter bar)."""
    from customers.filtersets import CustomerListFilterSet

    return CustomerListFilterSet(params, queryset=customer_queryset(user=user), user=user)


def customer_list(*, user: User, params: Mapping[str, Any]) -> QuerySet[Customer]:
    """Visible customers matching `q` and the filters in `params`, newest first.

    Filters: station, district, kind, segment, sensitivity (a flag name, `vip`
    or `any`), stale (1: older than ARCHIVE_STALE_DAYS or never verified; 0:
    fresh), incomplete (1/0), manager (user id). Invalid values are ignored;
    the result never leaves the user's scope.
    """
    return customer_filterset(user=user, params=params).qs.order_by("-id")


# A list filtered by these is read through their own index (a search's few
# hundred ids, a customer number, a station's, a district's, a line's or a
# manager's rows): unit by unit, the same few rows would be looked for once per
# unit. The list page's names and the API's (`station_id`, `number`, ...).
NARROWING_FILTERS = (
    "q",
    "number",
    "station",
    "station_id",
    "district",
    "district_id",
    "line",
    "line_id",
    "manager",
    "manager_id",
)


def customer_list_units(*, user: User, params: Mapping[str, Any]) -> tuple[str, list[int]] | None:
    """The scope's stations when the user's list is best read station by station
    (core.pagination): a supervisor's list without a filter of NARROWING_FILTERS;
    else None. The list page and /api/v1/customers/ read by this one rule."""
    units = Customer.objects.scope_unit_ids(user)
    narrowed = any(str(params.get(name) or "").strip() for name in NARROWING_FILTERS)
    return ("station_id", units) if units is not None and not narrowed else None


def customer_page(
    *, user: User, customers: QuerySet[Customer], params: Mapping[str, Any], page_size: int
) -> KeysetPage:
    """One page of `customers` (the user's filtered list), newest first, at `after`/`before` in `params`.

    A supervisor's list is read station by station and merged (core.pagination),
    so a county's page costs the county's rows, not the prefecture's; unless a
    filter of NARROWING_FILTERS is set (`customer_list_units`).
    """
    by_unit = customer_list_units(user=user, params=params)
    return keyset_paginate(customers, params=params, page_size=page_size, by_unit=by_unit)


def customer_first_ids(
    *, user: User, customers: QuerySet[Customer], params: Mapping[str, Any], order: str, count: int
) -> QuerySet | None:
    """The ids of the first `count` of `customers` (the user's filtered list) ordered
    by `order` ("pk" or "-pk"), read station by station as the list page reads
    them; None where that read does not apply (then `customers` is read as it is)."""
    return first_ids_by_unit(customers, order, count, customer_list_units(user=user, params=params))


def customer_detail(*, user: User, number: str) -> Customer:
    """One visible customer with its units, manager and contacts loaded; 404 when out of scope."""
    queryset = (
        Customer.objects.visible_to(user)
        .select_related("station", "district", "district__line", "line", "manager", "manager__org_unit")
        .prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by("-is_primary", "id")))
    )
    return get_object_or_404(queryset, number=number)


def customer_row(*, user: User, number: str) -> Customer:
    """One visible customer, its own row only (no units, manager or contacts): for the
    pages that need just the customer (timeline, logging a contact or a visit); 404
    when out of scope."""
    return get_object_or_404(Customer.objects.visible_to(user), number=number)


def contact_of(*, customer: Customer, pk: int) -> Contact:
    return get_object_or_404(Contact.objects.filter(customer=customer), pk=pk)


# --- Export -----------------------------------------------------------------------

EXPORT_COLUMNS = (
    gettext_lazy("户号"),
    gettext_lazy("客户名称"),
    gettext_lazy("用电类别"),
    gettext_lazy("城乡"),
    gettext_lazy("电压等级"),
    gettext_lazy("用电地址"),
    gettext_lazy("供电所"),
    gettext_lazy("线路"),
    gettext_lazy("台区"),
    gettext_lazy("客户经理"),
    gettext_lazy("主联系人"),
    gettext_lazy("联系电话"),
    gettext_lazy("敏感标识"),
    gettext_lazy("档案完整度"),
    gettext_lazy("档案核实时间"),
    gettext_lazy("档案状态"),
)


def export_header() -> list[str]:
    return [str(column) for column in EXPORT_COLUMNS]


def _labels(field_name: str) -> dict[Any, str]:
    """A choice field's labels in the active language, as get_FOO_display shows them."""
    return {value: str(label) for value, label in Customer._meta.get_field(field_name).flatchoices}


_EXPORT_VALUES = (
    "number",
    "name",
    "kind",
    "segment",
    "voltage",
    "address",
    "station__name",
    "line__name",
    "district__name",
    "manager_id",
    "manager__real_name",
    "manager__username",
    "primary_contact_name",
    "primary_phone",
    "vip_tier",
    "completeness",
    "verified_at",
    *SENSITIVITY_FLAGS,
)


def customer_export_rows(*, user: User, params: Mapping[str, Any]) -> Iterator[list[Any]]:
    """The filtered list as rows for a spreadsheet, phones masked unless the user owns the customer.

    Streams from the database in chunks; never loads the whole list. Reads
    plain values and translates each label once per export: a model instance
    and a label lookup per row cost more than writing the workbook. The cells
    are what the customer's own properties show (get_kind_display,
    sensitivity_labels, is_stale, phone_shown_to).
    """
    kinds, segments, vip_tiers = _labels("kind"), _labels("segment"), _labels("vip_tier")
    flags = [str(Customer._meta.get_field(flag).verbose_name) for flag in SENSITIVITY_FLAGS]
    stale, fresh = _("待核实"), _("有效")
    stale_before = timezone.now() - timedelta(days=settings.ARCHIVE_STALE_DAYS)
    rows = customer_list(user=user, params=params).values_list(*_EXPORT_VALUES)
    for (
        number,
        name,
        kind,
        segment,
        voltage,
        address,
        station,
        line,
        district,
        manager_id,
        manager_name,
        manager_username,
        contact_name,
        phone,
        vip_tier,
        completeness,
        verified_at,
        *flag_values,
    ) in read_all(rows, chunk_size=1000):
        sensitivity = [label for label, on in zip(flags, flag_values, strict=True) if on]
        if vip_tier:
            sensitivity.append(vip_tiers.get(vip_tier, str(vip_tier)))
        owned = manager_id is not None and manager_id == user.pk  # Customer.owned_by
        yield [
            number,
            name,
            kinds.get(kind, kind),
            segments.get(segment, segment),
            voltage,
            address,
            station,
            line or "",
            district or "",
            (manager_name or manager_username) if manager_id else "",
            contact_name or "",
            (phone if owned else mask_phone(phone)) if phone else "",
            "、".join(sensitivity),
            completeness,
            verified_at,
            stale if verified_at is None or verified_at < stale_before else fresh,
        ]


# --- History ------------------------------------------------------------------------

CUSTOMER_HISTORY_FIELDS = (*ARCHIVE_FIELDS, "verified_at")
CUSTOMER_HISTORY_RELATED = ("station", "district", "line", "manager")


def _soft_deleted(record, previous) -> bool:
    return bool(getattr(record, "deleted_at", None) and previous and not previous.deleted_at)


def customer_history(customer: Customer, *, limit: int = 50, mask_phones: bool = True) -> list[HistoryRow]:
    """Changes to the customer and its contacts, newest first, at most `limit` rows.

    Each row says when, who, which field, old → new; creations and deletions
    are one row each. Two queries whatever the history holds (one for the
    customer's versions, one for its contacts'), users and units joined in.
    Phone numbers are masked when `mask_phones` is set.
    """
    sources = (
        (
            Customer,
            Customer.history.filter(id=customer.pk),
            CUSTOMER_HISTORY_FIELDS,
            CUSTOMER_HISTORY_RELATED,
        ),
        (Contact, Contact.history.filter(customer_id=customer.pk), Contact.EDITABLE_FIELDS, ()),
    )
    entries = []
    for model, history, fields, related in sources:
        for record, previous in records_with_predecessors(history, limit, related):
            changes = []
            if record.history_type == "~" and previous is not None:
                changes = record.diff_against(previous, included_fields=fields).changes
            entries.append((model, record, previous, changes))
    entries.sort(key=lambda entry: (entry[1].history_date, entry[1].history_id), reverse=True)

    rows: list[HistoryRow] = []
    for model, record, previous, changes in entries:
        who = str(record.history_user) if record.history_user else _("系统")
        subject = _("客户档案") if model is Customer else _("联系人「%(name)s」") % {"name": record.name}
        if record.history_type == "+":
            rows.append(HistoryRow(record.history_date, who, subject, _("新建")))
        elif record.history_type == "-" or _soft_deleted(record, previous):
            rows.append(HistoryRow(record.history_date, who, subject, _("删除")))
        for change in changes:
            field = model._meta.get_field(change.field)
            old, new = format_value(previous, field), format_value(record, field)
            if mask_phones and change.field in Contact.PHONE_FIELDS:
                old, new = mask_phone(old), mask_phone(new)
            rows.append(
                HistoryRow(record.history_date, who, subject, _("修改"), str(field.verbose_name), old, new)
            )
        if len(rows) >= limit:
            break
    return rows[:limit]
