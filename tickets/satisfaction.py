"""The one definition of satisfaction, read by the dashboard, its export and the order list.

Satisfaction over a period counts orders, not visits: each order whose return
visit was made within the period counts once, with the result of its latest
visit made within the period. An order visited 不满意, reopened and visited again
in the same period counts once, with its second answer; a visit made in a later
period counts in that period, so a past period's figures do not move.

How the answer was obtained is the channel of that same visit: 自助评价 (the
customer's own answer to the survey link) or staff (a return visit recorded by a
supervisor or a designated 回访员).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from tickets.models import ReturnVisit

# The definition above as the dashboard, its export and README state it.
DEFINITION = _(
    "满意率口径：统计期间内有回访的工单，每张工单按其在期间内最后一次回访的结果和方式计一次；"
    "满意率 =（满意+基本满意）/ 已回访工单数。"
)

SELF_SERVICE = "self"
STAFF = "staff"
CHANNEL_CHOICES = [(SELF_SERVICE, _("自助评价")), (STAFF, _("员工回访"))]

# The four customer segments of the satisfaction chart: 城市/农村 × 居民/非居民.
SEGMENT_CHOICES = [
    ("urban-resident", _("城市居民")),
    ("urban-other", _("城市非居民")),
    ("rural-resident", _("农村居民")),
    ("rural-other", _("农村非居民")),
]


def _made_within(start: datetime | None, end: datetime | None) -> Q:
    window = Q(visited_at__isnull=False)
    if start is not None:
        window &= Q(visited_at__gte=start)
    if end is not None:
        window &= Q(visited_at__lt=end)
    return window


def satisfaction_visits(
    visits: QuerySet[ReturnVisit], start: datetime | None, end: datetime | None
) -> QuerySet[ReturnVisit]:
    """Of `visits`, each order's latest return visit made within [start, end) (an open
    bound when None): the rows every satisfaction figure counts."""
    made = _made_within(start, end)
    later = ReturnVisit.objects.filter(made, ticket=OuterRef("ticket")).filter(
        Q(visited_at__gt=OuterRef("visited_at")) | Q(visited_at=OuterRef("visited_at"), pk__gt=OuterRef("pk"))
    )
    return visits.filter(made).filter(~Exists(later))


def coverage_visits(
    visits: QuerySet[ReturnVisit], start: datetime | None, end: datetime | None
) -> QuerySet[ReturnVisit]:
    """Of `visits`, each order's latest return visit due within [start, end): the rows
    the coverage (回访覆盖率) counts, so that an order reopened after 不满意 counts once,
    visited or not by its latest visit, and 已回访 + 未回访 add up to 应回访."""
    due = Q()
    if start is not None:
        due &= Q(due_at__gte=start)
    if end is not None:
        due &= Q(due_at__lt=end)
    later = ReturnVisit.objects.filter(due, ticket=OuterRef("ticket")).filter(
        Q(due_at__gt=OuterRef("due_at")) | Q(due_at=OuterRef("due_at"), pk__gt=OuterRef("pk"))
    )
    return visits.filter(due).filter(~Exists(later))


def channel_of(method_field: str = "method") -> Case:
    """自助评价 or staff, from the visit's method."""
    return Case(
        When(**{method_field: ReturnVisit.Method.SELF_SERVICE}, then=Value(SELF_SERVICE)),
        default=Value(STAFF),
    )


def channel_q(channel: str) -> Q:
    self_service = Q(method=ReturnVisit.Method.SELF_SERVICE)
    return self_service if channel == SELF_SERVICE else ~self_service


def segment_of(customer_field: str = "ticket__customer") -> Case:
    """城市/农村 × 居民/非居民 of the order's customer, as a SEGMENT_CHOICES value."""
    cases = []
    for segment in Customer.Segment.values:
        cases.append(
            When(
                **{f"{customer_field}__segment": segment, f"{customer_field}__kind": Customer.Kind.RESIDENT},
                then=Value(f"{segment}-resident"),
            )
        )
        cases.append(When(**{f"{customer_field}__segment": segment}, then=Value(f"{segment}-other")))
    return Case(*cases, default=Value(""))


def segment_q(segment: str, customer_field: str = "customer") -> Q:
    """Orders (or rows reaching a customer through `customer_field`) of one SEGMENT_CHOICES value."""
    place, _sep, who = segment.partition("-")
    resident = Q(**{f"{customer_field}__kind": Customer.Kind.RESIDENT})
    return Q(**{f"{customer_field}__segment": place}) & (resident if who == "resident" else ~resident)
