"""Reads of work orders shared by pages and the API.

Everything starts from `Ticket.objects.visible_to(user)`, so an order out of the
user's scope is absent from lists and answers 404 on its own pages.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import units_for
from accounts.models import User
from core.durations import format_duration
from core.history import HistoryRow, format_value, records_with_predecessors
from core.pagination import MERGE_MAX_UNITS, KeysetPage, merged_unit_firsts
from core.phones import mask_phone
from customers.models import Customer
from notifications.models import Notification
from notifications.selectors import notifications_with_key_prefix
from tickets.models import (
    HISTORY_EXCLUDED_FIELDS,
    OPEN_STATUSES,
    TICKET_EDITABLE_FIELDS,
    Attachment,
    Resolution,
    ReturnVisit,
    Ticket,
    TicketEvent,
    Transfer,
    Urgency,
)

DEFAULT_PAGE_SIZE = 50
# The list counts its orders up to this many; beyond it shows "10,000+" rather than
# counting a prefecture's history on every page.
TOTAL_CAP = 10_000


# --- Choices a user may pick from -------------------------------------------------
# Units and staff: accounts.choices.


def ticket_customer(*, user: User, number: str) -> Customer | None:
    """The visible customer with that number, for opening an order; None when out of scope."""
    number = (number or "").strip()
    if not number:
        return None
    return (
        Customer.objects.visible_to(user).select_related("station", "manager").filter(number=number).first()
    )


def visible_ticket_number(user: User, number: str) -> str | None:
    """The stored number of the order `number` names (any case) if `user` may see it, else None.

    The contact log's link to an order (customers.interactions.ticket_links):
    an unknown order and one out of scope answer alike.
    """
    return (
        Ticket.objects.visible_to(user)
        .filter(number=number.strip().upper())
        .values_list("number", flat=True)
        .first()
    )


# --- The SLA clock as a person reads it ---------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """Where an order stands against its running deadline.

    `level` is "overdue", "near" (past the warning point), "ok", or "closed"
    for an order that no longer runs against a deadline.
    """

    level: str
    text: str
    clock: str = ""

    @property
    def is_overdue(self) -> bool:
        return self.level == "overdue"

    @property
    def is_near(self) -> bool:
        return self.level == "near"


def deadline_of(ticket: Ticket, now: datetime) -> Deadline:
    """The same rule as TicketQuerySet.overdue() and near_deadline(), on one loaded order."""
    due = ticket.running_due_at
    if due is None:
        return Deadline("closed", "—")
    clock = (
        _("签收") if not ticket.is_signed and ticket.sign_due_at and due == ticket.sign_due_at else _("办结")
    )
    if due <= now:
        return Deadline("overdue", _("已超时 %(duration)s") % {"duration": format_duration(now - due)}, clock)
    warned = (ticket.resolve_warn_at is not None and ticket.resolve_warn_at <= now) or (
        not ticket.is_signed and ticket.sign_warn_at is not None and ticket.sign_warn_at <= now
    )
    text = _("剩余 %(duration)s") % {"duration": format_duration(due - now)}
    return Deadline("near" if warned else "ok", text, clock)


# --- The list: most urgent first, keyset-paginated on the sort key ------------------

# Where an order falls in the list: open and overdue, open and past the warning
# point, other open orders, closed orders.
RANK_OVERDUE, RANK_NEAR, RANK_OPEN, RANK_CLOSED = range(4)
# Open orders without a running deadline sort after every one with a deadline;
# closed orders carry it too (they are ordered by id alone).
NO_DEADLINE = datetime(9000, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Within a rank: the most urgent first, the deadline that falls first first,
# the newest first: the order of the `ticket_attention` index.
_IN_RANK_ORDER = ("-urgency", "attention_due_at", "-pk")


def _sort_key(queryset: QuerySet[Ticket], rank) -> QuerySet[Ticket]:
    return queryset.annotate(
        sort_rank=rank,
        sort_urgency=ExpressionWrapper(
            Value(int(Urgency.CRITICAL)) - F("urgency"), output_field=IntegerField()
        ),
        sort_due=Coalesce("attention_due_at", Value(NO_DEADLINE), output_field=DateTimeField()),
    )


def with_attention_order(queryset: QuerySet[Ticket], now: datetime) -> QuerySet[Ticket]:
    """Open orders annotated with the sort key (sort_rank, sort_urgency, sort_due,
    -id) and ordered by it, in one query: overdue, then near the deadline, then
    the rest; within each the order of the list. For short lists (a section of
    the workbench); the paged list reads each rank on its own (`_ranks`)."""
    rank = Case(
        When(attention_due_at__lte=now, then=Value(RANK_OVERDUE)),
        When(attention_warn_at__lte=now, then=Value(RANK_NEAR)),
        default=Value(RANK_OPEN),
        output_field=IntegerField(),
    )
    return _sort_key(queryset.filter(status__in=OPEN_STATUSES), rank).order_by("sort_rank", *_IN_RANK_ORDER)


def _ranks(
    queryset: QuerySet[Ticket], now: datetime, statuses: set[str] | None = None
) -> list[tuple[int, QuerySet[Ticket]]]:
    """The list as four parts in list order, each the orders it holds: the open
    orders by rank (stored deadline and warning columns against `now`), then the
    closed ones. `_in_list_order` orders a part; each is read in index order.
    `statuses`: those the filters leave; a part none of them can be in is left
    out rather than searched in vain (the planner does not see that an open
    status and a closed one exclude each other, and would read the scope)."""
    open_orders = queryset.filter(status__in=OPEN_STATUSES)
    not_due = Q(attention_due_at__gt=now)
    parts = []
    if statuses is None or statuses & set(OPEN_STATUSES):
        parts += [
            (RANK_OVERDUE, open_orders.filter(attention_due_at__lte=now)),
            (RANK_NEAR, open_orders.filter(not_due, attention_warn_at__lte=now)),
            (RANK_OPEN, open_orders.filter(not_due, attention_warn_at__gt=now)),
        ]
    if statuses is None or statuses - set(OPEN_STATUSES):
        parts.append((RANK_CLOSED, queryset.exclude(status__in=OPEN_STATUSES)))
    return parts


def _list_order(rank: int, *, forward: bool = True) -> tuple[str, ...]:
    """A part's order: an open rank in the order of the `ticket_attention` index, the
    closed orders newest first straight off the primary key; turned round when not `forward`."""
    order = ("-pk",) if rank == RANK_CLOSED else _IN_RANK_ORDER
    return order if forward else tuple(name[1:] if name.startswith("-") else f"-{name}" for name in order)


def _in_list_order(part: QuerySet[Ticket], rank: int, *, forward: bool = True) -> QuerySet[Ticket]:
    """A part with its sort key, in list order (forward) or the reverse (`_list_order`)."""
    if rank == RANK_CLOSED:
        part = part.annotate(
            sort_rank=Value(RANK_CLOSED, output_field=IntegerField()),
            sort_urgency=Value(0, output_field=IntegerField()),
            sort_due=Value(NO_DEADLINE, output_field=DateTimeField()),
        )
    else:
        part = _sort_key(part, Value(rank, output_field=IntegerField()))
    return part.order_by(*_list_order(rank, forward=forward))


# What a list row shows, joined in.
LIST_RELATED = ("customer", "assignee", "org_unit")
# A scope of one unit is read straight off the unit's index in list order; from
# two units on, each unit's first rows are read and merged (`_first_rows`).
MERGE_FROM_UNITS = 2


def unit_first_ids(
    part: QuerySet[Ticket],
    order: Sequence[str],
    *,
    limit: int,
    unit_ids: list[int] | None,
    in_id_order: bool = False,
) -> RawSQL | None:
    """The ids of the first `limit` orders of `part` ordered by `order`, read unit by unit
    (for `pk__in=`); None where that read does not apply (then `part` is read as it is:
    SQLite, a single unit, an account manager's own-or-unit scope).

    For a scope of several units on PostgreSQL (a supervisor's), each unit's
    first `limit` orders are read off its own index (`ticket_unit_attention`,
    `ticket_unit_newest`) with their sort key, and only those candidates are
    ordered, by that key (core.pagination.merged_unit_firsts): one short index
    scan per unit, whatever the other units hold. A walk of the shared index in
    list order would pass every other county's orders before the county's, and
    a read of the scope's whole part (its open orders, its years of closed ones)
    costs the county's history. Both give the same rows
    (tests/tickets/test_list_per_unit.py, tests/api/test_lists_per_unit.py).

    `in_id_order` (the closed orders, the API's pages): past MERGE_MAX_UNITS
    units (a prefecture's hundred stations) the scope holds most of the table,
    so walking the ids finds the page sooner than a branch per unit; a branch
    whose unit holds no matching order reads all of that unit's rows (a
    prefecture supervisor's closed orders of urgency 2, none in the archive:
    2.9 s per unit, 0.2 s walking the ids). The open ranks stay unit by unit:
    their per-unit index holds every column they are ordered and cut by.
    """
    if unit_ids is None or len(unit_ids) < MERGE_FROM_UNITS or connection.vendor != "postgresql":
        return None
    if in_id_order and len(unit_ids) > MERGE_MAX_UNITS:
        return None
    return merged_unit_firsts(part, order, limit, column="org_unit_id", units=unit_ids)


def _first_rows(
    part: QuerySet[Ticket], rank: int, *, forward: bool, limit: int, unit_ids: list[int] | None
) -> list[Ticket]:
    """The first `limit` orders of a part in list order (or the reverse), in one
    query; unit by unit where `unit_first_ids` applies."""
    order = _list_order(rank, forward=forward)
    firsts = unit_first_ids(part, order, limit=limit, unit_ids=unit_ids, in_id_order=rank == RANK_CLOSED)
    if firsts is None:
        return list(_in_list_order(part, rank, forward=forward)[:limit])
    # Only the page's rows are joined to what a row shows.
    rows = Ticket.objects.select_related(*LIST_RELATED).filter(pk__in=firsts)
    return list(_in_list_order(rows, rank, forward=forward)[:limit])


def ticket_first_ids(*, user: User, orders: QuerySet[Ticket], order: str, count: int) -> RawSQL | None:
    """The ids of the first `count` of `orders` (the user's filtered orders) ordered
    by `order` ("pk" or "-pk", off `ticket_unit_newest`), read unit by unit as the
    list page reads them; None where that read does not apply (`unit_first_ids`)."""
    unit_ids = Ticket.objects.scope_unit_ids(user)
    return unit_first_ids(orders, (order,), limit=count, unit_ids=unit_ids, in_id_order=True)


def _beyond(
    queryset: QuerySet[Ticket],
    now: datetime,
    cursor,
    *,
    forward: bool,
    limit: int,
    unit_ids: list[int] | None = None,
    statuses: set[str] | None = None,
) -> list[Ticket]:
    """Up to `limit` rows after the cursor in list order (forward), or before it
    nearest first. A part is read only when the ones before it do not fill the
    page, so the first page of a supervisor with many overdue orders is one
    query. `unit_ids`: the scope's units, when the queryset is narrowed by them;
    `statuses`: those the filters leave."""
    parts = _ranks(queryset, now, statuses)
    if not forward:
        parts.reverse()
    rows: list[Ticket] = []
    for rank, part in parts:
        if cursor is not None:
            if (rank < cursor.rank) if forward else (rank > cursor.rank):
                continue
            if rank == cursor.rank:
                part = part.filter(cursor.beyond_in_rank(forward=forward))
        rows += _first_rows(part, rank, forward=forward, limit=limit - len(rows), unit_ids=unit_ids)
        if len(rows) >= limit:
            break
    return rows


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the sort key of a row, and the moment the ranks
    were computed at. Later pages rank at that same moment, so an order that
    crosses its deadline while someone pages is neither skipped nor shown twice."""

    rank: int
    urgency: int
    due: datetime
    pk: int
    now: datetime

    def encode(self) -> str:
        return f"{self.rank}.{self.urgency}.{_micros(self.due)}.{self.pk}.{_micros(self.now)}"

    @classmethod
    def decode(cls, value: Any) -> "Cursor | None":
        """The cursor in a link, or None for anything that is not one (first page)."""
        if not isinstance(value, str):
            return None
        try:
            rank, urgency, due, pk, now = (int(part) for part in value.split("."))
            return cls(rank, urgency, _EPOCH + due * _MICROSECOND, pk, _EPOCH + now * _MICROSECOND)
        except (TypeError, ValueError, OverflowError):
            return None

    @classmethod
    def of(cls, ticket: Ticket, now: datetime) -> "Cursor":
        return cls(ticket.sort_rank, ticket.sort_urgency, ticket.sort_due, ticket.pk, now)

    def beyond_in_rank(self, *, forward: bool) -> Q:
        """Rows of this cursor's rank after it (forward) or before it, in list order."""
        newer = "lt" if forward else "gt"  # the id runs descending
        if self.rank == RANK_CLOSED:
            return Q(**{f"pk__{newer}": self.pk})
        less_urgent = "lt" if forward else "gt"
        later = "gt" if forward else "lt"
        urgency = int(Urgency.CRITICAL) - self.urgency
        return (
            Q(**{f"urgency__{less_urgent}": urgency})
            | Q(urgency=urgency, **{f"attention_due_at__{later}": self.due})
            | Q(urgency=urgency, attention_due_at=self.due, **{f"pk__{newer}": self.pk})
        )


@dataclass
class TicketPage(KeysetPage):
    """One page of the list, with the filter bar that produced it."""

    now: datetime | None = None
    filter_form: Any = None
    filtered: bool = False
    # Every order the filters match (at most TOTAL_CAP; `total_capped` when there are more).
    total: int = 0
    total_capped: bool = False
    # The unit a dashboard link named exactly (`unit`), shown since the filter bar has no field for it.
    unit_only: str = ""

    @property
    def next_after(self) -> str | None:  # type: ignore[override]
        return Cursor.of(self.items[-1], self.now).encode() if self.has_next and self.items else None

    @property
    def previous_before(self) -> str | None:  # type: ignore[override]
        return Cursor.of(self.items[0], self.now).encode() if self.has_previous and self.items else None


def ticket_queryset(*, user: User) -> QuerySet[Ticket]:
    """Visible orders with what a list row shows, in one query."""
    return Ticket.objects.visible_to(user).select_related(*LIST_RELATED)


def ticket_filterset(*, user: User, params: Mapping[str, Any], now: datetime | None = None):
    from tickets.filtersets import TicketListFilterSet

    return TicketListFilterSet(
        params, queryset=ticket_queryset(user=user), user=user, now=now or timezone.now()
    )


def ticket_list(*, user: User, params: Mapping[str, Any], page_size: int | None = None) -> TicketPage:
    """One page of the visible orders matching the filters in `params`, most urgent first.

    Filters: q (number, title, customer name or number), status (a status,
    `open` or `closed`), kind, category, urgency, source, org_unit (its whole
    subtree), assignee, deadline (`overdue`, `near`, or `attention` for
    either), repeat (1/0). Invalid values are ignored; the result never leaves
    the user's scope. `after`/`before` hold a Cursor; a bad one means the first
    page. Each row carries `deadline` (a Deadline at the current time).
    """
    size = page_size or getattr(settings, "TICKET_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    after = Cursor.decode(params.get("after"))
    before = Cursor.decode(params.get("before")) if after is None else None
    cursor = after or before
    now = cursor.now if cursor else timezone.now()

    filterset = ticket_filterset(user=user, params=params, now=now)
    orders = filterset.qs
    unit_ids = Ticket.objects.scope_unit_ids(user) if filterset.by_unit else None
    read = {"unit_ids": unit_ids, "statuses": filterset.statuses_left()}
    if before is not None:
        rows = _beyond(orders, now, before, forward=False, limit=size + 1, **read)
        has_more = len(rows) > size
        rows = rows[:size]
        rows.reverse()
        has_next, has_previous = True, has_more
    else:
        rows = _beyond(orders, now, after, forward=True, limit=size + 1, **read)
        has_next, has_previous = len(rows) > size, after is not None
        rows = rows[:size]

    shown_at = timezone.now()
    for ticket in rows:
        ticket.deadline = deadline_of(ticket, shown_at)
    if has_next or has_previous:
        # One bounded count; a list on one page is counted by its rows.
        total = filterset.qs.order_by().values("pk")[: TOTAL_CAP + 1].count()
    else:
        total = len(rows)
    return TicketPage(
        items=rows,
        has_next=has_next,
        has_previous=has_previous,
        now=now,
        filter_form=filterset.form,
        filtered=bool(filterset.form.changed_data),
        total=min(total, TOTAL_CAP),
        total_capped=total > TOTAL_CAP,
        unit_only=_unit_only(user, filterset.form.cleaned_data.get("unit")),
    )


def _unit_only(user: User, unit_id) -> str:
    """The name of the unit the list is limited to by `unit`, when it is one the user oversees."""
    if not unit_id:
        return ""
    return units_for(user).filter(pk=int(unit_id)).values_list("name", flat=True).first() or ""


# --- One order ------------------------------------------------------------------------

CHANGE_LABELS = {
    "org_unit": gettext_lazy("责任单位"),
    "assignee": gettext_lazy("处理人"),
    "to_unit": gettext_lazy("接收单位"),
    "tracker": gettext_lazy("跟踪人"),
    "result": gettext_lazy("回访结果"),
    "other": gettext_lazy("关联工单"),
    "level": gettext_lazy("升级级别"),
    "resolution_kind": gettext_lazy("解决方式"),
    "commitment": gettext_lazy("服务承诺"),
    "commitment_due": gettext_lazy("承诺完成日期"),
}
# Edited fields are labelled by the model's own verbose names.
CHANGE_LABELS.update({name: Ticket._meta.get_field(name).verbose_name for name in TICKET_EDITABLE_FIELDS})


def ticket_for_action(*, user: User, number: str) -> Ticket:
    """A visible order with what the permission checks read; 404 when out of scope."""
    return get_object_or_404(
        Ticket.objects.visible_to(user).select_related("org_unit", "customer"), number=number
    )


def ticket_is_visible(*, user: User, ticket: Ticket) -> bool:
    return Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists()


def ticket_detail(*, user: User, number: str) -> Ticket:
    """A visible order with everything its page shows; 404 when out of scope.

    A fixed number of queries whatever the order holds: the order with its
    customer, units and people joined in; then its timeline (newest first,
    with actors), transfers, return visits, attachments, related orders and
    resolutions (newest first), one query each. `customer_visible` and each related order's `visible`
    say whether the user may open them.
    """
    related = Ticket.objects.annotate(
        visible=Exists(Ticket.objects.visible_to(user).filter(pk=OuterRef("pk")))
    ).order_by("-id")
    queryset = (
        Ticket.objects.visible_to(user)
        .select_related(
            "customer",
            "customer__station",
            "customer__manager",
            "org_unit",
            "assignee",
            "assignee__org_unit",
            "opened_by",
            "policy",
            "repeat_of",
        )
        .annotate(
            customer_visible=Exists(Customer.objects.visible_to(user).filter(pk=OuterRef("customer_id")))
        )
        .prefetch_related(
            Prefetch(
                "events",
                queryset=TicketEvent.objects.select_related("actor").order_by("-created_at", "-id"),
                to_attr="timeline",
            ),
            Prefetch(
                "transfers",
                queryset=Transfer.objects.select_related(
                    "from_unit", "to_unit", "from_user", "to_user", "tracker", "created_by"
                ).order_by("-created_at", "-id"),
                to_attr="transfer_list",
            ),
            Prefetch(
                "return_visits",
                queryset=ReturnVisit.objects.select_related("visited_by").order_by("-due_at", "-id"),
                to_attr="visit_list",
            ),
            Prefetch(
                "attachments",
                queryset=Attachment.objects.select_related("uploaded_by").order_by("uploaded_at", "id"),
                to_attr="attachment_list",
            ),
            Prefetch("related", queryset=related, to_attr="related_list"),
            Prefetch(
                "resolutions",
                queryset=Resolution.objects.select_related("resolved_by").order_by("-resolved_at", "-id"),
                to_attr="resolution_list",
            ),
        )
    )
    ticket = get_object_or_404(queryset, number=number)
    ticket.full_phone_shown = sees_full_phone(user, ticket)
    for event in ticket.timeline:
        changes = changes_shown(event.changes, full_phone=ticket.full_phone_shown)
        event.change_rows = [
            (str(CHANGE_LABELS.get(key, key)), value) for key, value in changes.items() if value
        ]
    ticket.deadline = deadline_of(ticket, timezone.now())
    return ticket


REMINDER_LIMIT = 30


def ticket_reminders(ticket: Ticket, *, limit: int = REMINDER_LIMIT) -> list[Notification]:
    """What the outbox holds for this order, newest first: reminders, escalations and urges
    to staff (the SLA scan's and the services' keys all start "ticket:<id>:"), and the
    notices to the customer, each with channel and status. One query."""
    return notifications_with_key_prefix(f"ticket:{ticket.pk}:", limit=limit)


def sees_full_phone(user: User, ticket: Ticket) -> bool:
    """The customer's own manager, and the order's assignee (who must call back) when the
    customer is their unit's; an assignee in a unit the order was transferred to is not."""
    if ticket.customer.owned_by(user):
        return True
    if not (ticket.assignee_id and ticket.assignee_id == user.pk and user.org_unit_id):
        return False
    station = ticket.customer.station
    return station is not None and station.is_within(user.org_unit)


def changes_shown(changes: dict | None, *, full_phone: bool) -> dict:
    """An edit's stored "old → new" pairs as a reader sees them: the contact phone masked on
    both sides for those who may not see it in full (a receiving unit of a transfer, say)."""
    changes = changes or {}
    if full_phone or not changes.get("contact_phone"):
        return changes
    old, _arrow, new = str(changes["contact_phone"]).partition(" → ")
    return {**changes, "contact_phone": f"{mask_phone(old)} → {mask_phone(new)}"}


def contact_phone_shown_to(user: User, ticket: Ticket) -> str:
    """Those sees_full_phone names see the number in full; everybody else sees it masked."""
    phone = ticket.contact_phone
    if not phone:
        return ""
    if sees_full_phone(user, ticket):
        return phone
    return mask_phone(phone)


def attachment_of(*, ticket: Ticket, pk: int) -> Attachment:
    return get_object_or_404(Attachment.objects.filter(ticket=ticket), pk=pk)


# --- Change history ---------------------------------------------------------------------

# What the history shows of an order: every field it keeps but its id and its number (fixed at creation).
TICKET_HISTORY_FIELDS = tuple(
    field.name
    for field in Ticket._meta.concrete_fields
    if field.name not in HISTORY_EXCLUDED_FIELDS and field.editable and not field.primary_key
)
TICKET_HISTORY_RELATED = ("customer", "org_unit", "assignee", "opened_by", "policy", "repeat_of")
HISTORY_LIMIT = 50


def ticket_history(
    ticket: Ticket, *, limit: int = HISTORY_LIMIT, mask_phones: bool = True
) -> list[HistoryRow]:
    """Changes to the order's fields, newest first, at most `limit` rows: when, who, field, old → new.

    One query whatever the history holds (the versions with their
    predecessors, users and related rows joined in). The creation is one
    row. The contact phone is masked when `mask_phones` is set.
    """
    rows: list[HistoryRow] = []
    subject = _("工单")
    for record, previous in records_with_predecessors(
        Ticket.history.filter(id=ticket.pk), limit, TICKET_HISTORY_RELATED
    ):
        who = str(record.history_user) if record.history_user else _("系统")
        if record.history_type == "+":
            rows.append(HistoryRow(record.history_date, who, subject, _("新建")))
        elif record.history_type == "-":
            rows.append(HistoryRow(record.history_date, who, subject, _("删除")))
        elif previous is not None:
            for change in record.diff_against(previous, included_fields=TICKET_HISTORY_FIELDS).changes:
                field = Ticket._meta.get_field(change.field)
                old, new = format_value(previous, field), format_value(record, field)
                if mask_phones and change.field == "contact_phone":
                    old, new = mask_phone(old), mask_phone(new)
                label = str(field.verbose_name)
                rows.append(HistoryRow(record.history_date, who, subject, _("修改"), label, old, new))
        if len(rows) >= limit:
            break
    return rows[:limit]
