"""Reads of the customer archive shared by pages, exports and the API.

Everything starts from `Customer.objects.visible_to(user)`, so a customer out of
the user's scope is absent from lists and answers 404 on its own pages.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Case, F, OuterRef, Prefetch, Q, QuerySet, Subquery, When
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.phones import mask_phone
from customers.models import ARCHIVE_FIELDS, Contact, Customer, District, Line

if TYPE_CHECKING:
    from customers.filtersets import CustomerListFilterSet

_PHONE_LIKE = re.compile(r"^[\d-]{7,16}$")
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


# --- Lists ----------------------------------------------------------------------


# A phone number belongs to a handful of customers; more than this many is not
# a search anyone reads to the end.
PHONE_MATCH_LIMIT = 500


def search_condition(term: str) -> Q:
    """Name or address contains the term, the number starts with it, or a contact has that phone.

    The customers with that phone are looked up first (one indexed query), so
    the search itself filters on a short list of ids: an EXISTS inside the OR
    hides its selectivity from the planner, which then walks the whole archive
    newest first looking for a page of matches.
    """
    term = term.strip()
    condition = Q(name__icontains=term) | Q(address__icontains=term)
    if _DIGITS.match(term):
        condition |= Q(number__startswith=term)
    if _PHONE_LIKE.match(term):
        phones = {term}
        if term.startswith("0") and "-" not in term:
            # Landlines are stored with or without the dash after the area code.
            phones |= {f"{term[:3]}-{term[3:]}", f"{term[:4]}-{term[4:]}"}
        elif "-" in term:
            phones.add(term.replace("-", ""))
        owners = (
            Contact.objects.filter(Q(mobile__in=phones) | Q(landline__in=phones))
            .order_by()
            .values_list("customer_id", flat=True)
            .distinct()[:PHONE_MATCH_LIMIT]
        )
        condition |= Q(pk__in=list(owners))
    return condition


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


def customer_detail(*, user: User, number: str) -> Customer:
    """One visible customer with its units, manager and contacts loaded; 404 when out of scope."""
    queryset = (
        Customer.objects.visible_to(user)
        .select_related("station", "district", "district__line", "line", "manager", "manager__org_unit")
        .prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by("-is_primary", "id")))
    )
    return get_object_or_404(queryset, number=number)


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


def customer_export_rows(*, user: User, params: Mapping[str, Any]) -> Iterator[list[Any]]:
    """The filtered list as rows for a spreadsheet, phones masked unless the user owns the customer.

    Streams from the database in chunks; never loads the whole list.
    """
    customers = customer_list(user=user, params=params)
    for customer in customers.iterator(chunk_size=1000):
        yield [
            customer.number,
            customer.name,
            customer.get_kind_display(),
            customer.get_segment_display(),
            customer.voltage,
            customer.address,
            customer.station.name,
            customer.line.name if customer.line_id else "",
            customer.district.name if customer.district_id else "",
            str(customer.manager) if customer.manager_id else "",
            customer.primary_contact_name or "",
            phone_shown_to(user, customer, customer.primary_phone),
            "、".join(customer.sensitivity_labels),
            customer.completeness,
            customer.verified_at,
            _("待核实") if customer.is_stale else _("有效"),
        ]


# --- History ------------------------------------------------------------------------

CUSTOMER_HISTORY_FIELDS = (*ARCHIVE_FIELDS, "verified_at")
CUSTOMER_HISTORY_RELATED = ("station", "district", "line", "manager")


@dataclass(frozen=True)
class HistoryRow:
    """One line of the change history: who changed which field of what, from what to what."""

    when: datetime
    who: str
    subject: str
    action: str
    field: str = ""
    old: str = ""
    new: str = ""


def _records_with_predecessors(
    history: QuerySet, limit: int, related: tuple[str, ...]
) -> list[tuple[Any, Any]]:
    """The newest `limit` history records, each paired with the record before it (or None).

    One query whatever the limit: the window of records plus, for each, the
    previous version of the same object, with the acting user and the related
    rows joined in. A predecessor outside the window is older than every record
    in it, so the first `limit` rows by descending history id are the window.
    """
    model = history.model
    window = history.order_by("-history_id").values("history_id")[:limit]
    previous_id = (
        model.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values("history_id")[:1]
    )
    predecessors = model.objects.filter(history_id__in=window).values(previous=Subquery(previous_id))
    records = list(
        model.objects.filter(Q(history_id__in=window) | Q(history_id__in=predecessors))
        .select_related("history_user", *related)
        .order_by("-history_id")
    )
    previous: dict[int, Any] = {}
    last_seen: dict[Any, Any] = {}
    for record in reversed(records):
        previous[record.history_id] = last_seen.get(record.id)
        last_seen[record.id] = record
    return [(record, previous[record.history_id]) for record in records[:limit]]


def _format_value(record, field) -> str:
    if field.is_relation:
        # Joined by select_related; a related row deleted since shows by its id.
        related_object = getattr(record, field.name)
        if related_object is not None:
            return str(related_object)
        pk = getattr(record, field.attname)
        return "" if pk is None else f"#{pk}"
    value = getattr(record, field.attname)
    if value is None or value == "":
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    return str(value)


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
        for record, previous in _records_with_predecessors(history, limit, related):
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
            old, new = _format_value(previous, field), _format_value(record, field)
            if mask_phones and change.field in Contact.PHONE_FIELDS:
                old, new = mask_phone(old), mask_phone(new)
            rows.append(
                HistoryRow(record.history_date, who, subject, _("修改"), str(field.verbose_name), old, new)
            )
        if len(rows) >= limit:
            break
    return rows[:limit]
