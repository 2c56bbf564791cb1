"""Reads of work orders shared by pages and the API.

Everything starts from `Ticket.objects.visible_to(user)`, so an order out of the
user's scope is absent from lists and answers 404 on its own pages.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
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
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import OrgUnit, User
from accounts.phones import mask_phone
from crm.pagination import KeysetPage
from customers.models import Customer
from tickets.models import (
    FIVE_W_ONE_H,
    OPEN_STATUSES,
    UNSIGNED_STATUSES,
    Attachment,
    ReturnVisit,
    Ticket,
    TicketEvent,
    Transfer,
    Urgency,
    near_deadline_q,
    overdue_q,
)

DEFAULT_PAGE_SIZE = 50


# --- Choices a user may pick from -------------------------------------------------


def units_for(user: User) -> QuerySet[OrgUnit]:
    """Org units of the user's subtree; every unit for an administrator."""
    units = OrgUnit.objects.order_by("path")
    if not user.is_authenticated or not user.is_active:
        return units.none()
    if user.is_administrator:
        return units
    if not user.org_unit_id:
        return units.none()
    return units.subtree_of(user.org_unit)


def staff_for(user: User) -> QuerySet[User]:
    """Active users of the user's subtree (assignees to filter by, trackers to name)."""
    users = User.objects.filter(is_active=True, org_unit__isnull=False).order_by("real_name", "id")
    if not user.is_authenticated or not user.is_active:
        return users.none()
    if user.is_administrator:
        return users
    if not user.org_unit_id:
        return users.none()
    return users.filter(org_unit__path__startswith=user.org_unit.path)


def staff_of_unit(unit_id: int | None) -> QuerySet[User]:
    """Active users who sit in exactly that unit: who an order of the unit may go to."""
    if not unit_id:
        return User.objects.none()
    return User.objects.filter(is_active=True, org_unit_id=unit_id).order_by("real_name", "id")


def ticket_customer(*, user: User, number: str) -> Customer | None:
    """The visible customer with that number, for opening an order; None when out of scope."""
    number = (number or "").strip()
    if not number:
        return None
    return (
        Customer.objects.visible_to(user).select_related("station", "manager").filter(number=number).first()
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


def format_duration(delta: timedelta) -> str:
    """2小时15分, 1天3小时, 40分; under a minute reads 不足1分."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes == 0:
        return _("不足1分")
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)s天") % {"n": days})
    if hours:
        parts.append(_("%(n)s小时") % {"n": hours})
    if minutes and not days:
        parts.append(_("%(n)s分") % {"n": minutes})
    return "".join(parts)


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
# Closed orders have no running deadline; they sort after every open one,
# newest first (the id decides among them).
NO_DEADLINE = datetime(9000, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def running_due_expression() -> Case:
    """Ticket.running_due_at in SQL: the signing deadline while unsigned (or the
    resolve deadline if that falls first), then the resolve deadline."""
    unsigned = Q(status__in=UNSIGNED_STATUSES, sign_due_at__isnull=False)
    return Case(
        When(unsigned & Q(resolve_due_at__lt=F("sign_due_at")), then=F("resolve_due_at")),
        When(unsigned, then=F("sign_due_at")),
        default=F("resolve_due_at"),
        output_field=DateTimeField(),
    )


def with_attention_order(queryset: QuerySet[Ticket], now: datetime) -> QuerySet[Ticket]:
    """Annotate the sort key (sort_rank, sort_urgency, sort_due, -id) and order by it.

    Open before closed; overdue, then near the deadline, then the rest; the
    most urgent first; the deadline that falls first first. Every part is a
    column expression, so the list pages on the key in SQL.
    """
    is_open = Q(status__in=OPEN_STATUSES)
    return queryset.annotate(
        sort_rank=Case(
            When(is_open & overdue_q(now), then=Value(RANK_OVERDUE)),
            When(is_open & near_deadline_q(now), then=Value(RANK_NEAR)),
            When(is_open, then=Value(RANK_OPEN)),
            default=Value(RANK_CLOSED),
            output_field=IntegerField(),
        ),
        sort_urgency=Case(
            When(
                is_open,
                then=ExpressionWrapper(
                    Value(int(Urgency.CRITICAL)) - F("urgency"), output_field=IntegerField()
                ),
            ),
            default=Value(0),
            output_field=IntegerField(),
        ),
        sort_due=Case(
            When(is_open, then=Coalesce(running_due_expression(), Value(NO_DEADLINE))),
            default=Value(NO_DEADLINE),
            output_field=DateTimeField(),
        ),
    ).order_by("sort_rank", "sort_urgency", "sort_due", "-pk")


def _closed_in_list_order(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Closed orders carry a constant sort key, so they are read newest first
    straight off the primary key: a million closed orders are never sorted."""
    return (
        queryset.exclude(status__in=OPEN_STATUSES)
        .annotate(
            sort_rank=Value(RANK_CLOSED, output_field=IntegerField()),
            sort_urgency=Value(0, output_field=IntegerField()),
            sort_due=Value(NO_DEADLINE, output_field=DateTimeField()),
        )
        .order_by("-pk")
    )


def _beyond(queryset: QuerySet[Ticket], now: datetime, cursor, *, forward: bool, limit: int) -> list[Ticket]:
    """Up to `limit` rows after the cursor in list order (forward), or before it
    nearest first. The list is the open orders ranked by with_attention_order,
    then the closed ones; each part is its own query, the second only when the
    first does not fill the page."""
    ranked = with_attention_order(queryset.filter(status__in=OPEN_STATUSES), now)
    closed = _closed_in_list_order(queryset)
    among_closed = cursor is not None and cursor.rank == RANK_CLOSED
    if forward:
        rows = (
            []
            if among_closed
            else list((ranked.filter(cursor.beyond(forward=True)) if cursor else ranked)[:limit])
        )
        if len(rows) < limit:
            tail = closed.filter(pk__lt=cursor.pk) if among_closed else closed
            rows += list(tail[: limit - len(rows)])
        return rows
    rows = list(closed.filter(pk__gt=cursor.pk).order_by("pk")[:limit]) if among_closed else []
    if len(rows) < limit:
        head = ranked if among_closed else ranked.filter(cursor.beyond(forward=False))
        rows += list(head.order_by("-sort_rank", "-sort_urgency", "-sort_due", "pk")[: limit - len(rows)])
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

    def beyond(self, *, forward: bool) -> Q:
        """Rows after this position (forward) or before it, in the list's order."""
        later = "gt" if forward else "lt"
        newer = "lt" if forward else "gt"  # the id runs descending
        same_rank = Q(sort_rank=self.rank)
        same_urgency = same_rank & Q(sort_urgency=self.urgency)
        same_due = same_urgency & Q(sort_due=self.due)
        return (
            Q(**{f"sort_rank__{later}": self.rank})
            | (same_rank & Q(**{f"sort_urgency__{later}": self.urgency}))
            | (same_urgency & Q(**{f"sort_due__{later}": self.due}))
            | (same_due & Q(**{f"pk__{newer}": self.pk}))
        )


@dataclass
class TicketPage(KeysetPage):
    """One page of the list, with the filter bar that produced it."""

    now: datetime | None = None
    filter_form: Any = None
    filtered: bool = False

    @property
    def next_after(self) -> str | None:  # type: ignore[override]
        return Cursor.of(self.items[-1], self.now).encode() if self.has_next and self.items else None

    @property
    def previous_before(self) -> str | None:  # type: ignore[override]
        return Cursor.of(self.items[0], self.now).encode() if self.has_previous and self.items else None


def ticket_queryset(*, user: User) -> QuerySet[Ticket]:
    """Visible orders with what a list row shows, in one query."""
    return Ticket.objects.visible_to(user).select_related("customer", "assignee", "org_unit")


def ticket_filterset(*, user: User, params: Mapping[str, Any], now: datetime | None = None):
    from tickets.filters import TicketFilterSet

    return TicketFilterSet(params, queryset=ticket_queryset(user=user), user=user, now=now or timezone.now())


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
    if before is not None:
        rows = _beyond(filterset.qs, now, before, forward=False, limit=size + 1)
        has_more = len(rows) > size
        rows = rows[:size]
        rows.reverse()
        has_next, has_previous = True, has_more
    else:
        rows = _beyond(filterset.qs, now, after, forward=True, limit=size + 1)
        has_next, has_previous = len(rows) > size, after is not None
        rows = rows[:size]

    shown_at = timezone.now()
    for ticket in rows:
        ticket.deadline = deadline_of(ticket, shown_at)
    return TicketPage(
        items=rows,
        has_next=has_next,
        has_previous=has_previous,
        now=now,
        filter_form=filterset.form,
        filtered=bool(filterset.form.changed_data),
    )


# --- One order ------------------------------------------------------------------------

CHANGE_LABELS = {
    "assignee": gettext_lazy("处理人"),
    "to_unit": gettext_lazy("接收单位"),
    "tracker": gettext_lazy("跟踪人"),
    "result": gettext_lazy("回访结果"),
    "other": gettext_lazy("关联工单"),
    "level": gettext_lazy("升级级别"),
}
# Edited fields are labelled by the model's own verbose names.
CHANGE_LABELS.update(
    {
        name: Ticket._meta.get_field(name).verbose_name
        for name in ("title", "description", "contact_name", "contact_phone")
    }
)
CHANGE_LABELS.update({name: Ticket._meta.get_field(name).verbose_name for name in FIVE_W_ONE_H})


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
    with actors), transfers, return visits, attachments and related orders,
    one query each. `customer_visible` and each related order's `visible`
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
        )
    )
    ticket = get_object_or_404(queryset, number=number)
    for event in ticket.timeline:
        event.change_rows = [
            (str(CHANGE_LABELS.get(key, key)), value) for key, value in (event.changes or {}).items() if value
        ]
    ticket.deadline = deadline_of(ticket, timezone.now())
    return ticket


def contact_phone_shown_to(user: User, ticket: Ticket) -> str:
    """The customer's own manager and the order's assignee (who must call back)
    see the number in full; everybody else sees it masked."""
    phone = ticket.contact_phone
    if not phone:
        return ""
    if ticket.customer.owned_by(user) or (ticket.assignee_id and ticket.assignee_id == user.pk):
        return phone
    return mask_phone(phone)


def attachment_of(*, ticket: Ticket, pk: int) -> Attachment:
    return get_object_or_404(Attachment.objects.filter(ticket=ticket), pk=pk)
