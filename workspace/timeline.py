"""The customer 360 timeline: one customer's contact log, visits and group messages, newest first.

It composes three apps (customers' interactions and visits, groups' messages),
each read through its own scoping.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from customers.interactions.selectors import interaction_queryset
from customers.models import Contact, Customer
from customers.visits.selectors import visit_queryset
from groups.models import GroupMessage

TIMELINE_PAGE_SIZE = 20
# Order among entries with the same time: interactions, visits, group messages.
_KIND_RANK = {"interaction": 3, "visit": 2, "message": 1}


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    when: datetime
    pk: int
    obj: Any

    @property
    def cursor(self) -> str:
        return f"{self.when.isoformat()}|{self.kind}|{self.pk}"


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


def parse_timeline_cursor(value: str | None) -> tuple[datetime, str, int] | None:
    """`<iso time>|<kind>|<id>`; anything else means the first page."""
    if not value:
        return None
    try:
        when_text, kind, pk_text = value.split("|")
        when = datetime.fromisoformat(when_text)
        pk = int(pk_text)
    except ValueError:
        return None
    if kind not in _KIND_RANK or timezone.is_naive(when):
        return None
    return when, kind, pk


def _before(field: str, kind: str, cursor: tuple[datetime, str, int] | None) -> Q:
    """Entries of `kind` strictly after the cursor in (time desc, kind rank desc, id desc) order."""
    if cursor is None:
        return Q()
    when, cursor_kind, pk = cursor
    older = Q(**{f"{field}__lt": when})
    rank, cursor_rank = _KIND_RANK[kind], _KIND_RANK[cursor_kind]
    if rank < cursor_rank:
        return older | Q(**{field: when})
    if rank == cursor_rank:
        return older | Q(**{field: when, "pk__lt": pk})
    return older


def _group_messages(*, user: User, customer: Customer) -> QuerySet[GroupMessage]:
    """The customer's own messages in groups the user may see (via its contacts or the customer link)."""
    # The contacts' ids as a list (a customer has a handful): an OR across a
    # join, or with a subquery, hides from the planner that both sides are
    # indexed, and it reads every message of every visible group.
    contacts = list(Contact.objects.filter(customer=customer).values_list("pk", flat=True))
    messages = GroupMessage.objects.filter(Q(customer=customer) | Q(sender_contact__in=contacts))
    return messages.visible_to(user).select_related("group")


def customer_timeline(
    *, user: User, customer: Customer, cursor: str | None = None, limit: int = TIMELINE_PAGE_SIZE
) -> TimelinePage:
    """Interactions, visits and group messages of one visible customer, newest first.

    Keyset-paginated on (time, kind, id); three queries whatever the page
    size. A visit sits at its completion time, or its planned time while open.
    """
    position = parse_timeline_cursor(cursor)
    entries: list[TimelineEntry] = []
    interactions = (
        interaction_queryset(user=user)
        .filter(customer=customer)
        .filter(_before("occurred_at", "interaction", position))
    )
    entries += [
        TimelineEntry("interaction", row.occurred_at, row.pk, row)
        for row in interactions.order_by("-occurred_at", "-id")[: limit + 1]
    ]
    visits = (
        visit_queryset(user=user)
        .filter(customer=customer)
        .annotate(timeline_at=Coalesce("done_at", "scheduled_at"))
        .filter(_before("timeline_at", "visit", position))
    )
    entries += [
        TimelineEntry("visit", row.timeline_at, row.pk, row)
        for row in visits.order_by("-timeline_at", "-id")[: limit + 1]
    ]
    messages = _group_messages(user=user, customer=customer).filter(_before("sent_at", "message", position))
    entries += [
        TimelineEntry("message", row.sent_at, row.pk, row)
        for row in messages.order_by("-sent_at", "-id")[: limit + 1]
    ]
    entries.sort(key=lambda entry: (entry.when, _KIND_RANK[entry.kind], entry.pk), reverse=True)
    page = entries[:limit]
    next_cursor = page[-1].cursor if len(entries) > limit else None
    return TimelinePage(page, next_cursor)
