"""Reads for the outage pages."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customers.models import District, Line, Visit
from notifications.models import Notification
from outages.models import AffectedCustomer, Outage, OutageStatus
from outages.services import live_affected_counts, reach_key
from reach.selectors import Breakdown, customer_reach, notice_breakdown, notice_records
from tickets.models import Ticket

RECENT_DAYS = 30
# Up to this many districts the outage form lists the scope as a tree with customer
# counts; a larger scope (a prefecture's thousands) gets the searchable pickers.
SCOPE_TREE_LIMIT = 300
SENSITIVE_LIST_LIMIT = 200
WORKBENCH_DAYS = 7
WORKBENCH_LIMIT = 10


def outage_lists(user) -> dict[str, list[Outage]]:
    """Upcoming, ongoing and recent (restored or cancelled within a month) outages the user sees."""
    base = Outage.objects.visible_to(user).select_related("org_unit", "created_by")
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    return {
        "upcoming": list(
            base.filter(status__in=[OutageStatus.PLANNED, OutageStatus.PUBLISHED]).order_by(
                "planned_start", "id"
            )[:100]
        ),
        "ongoing": list(base.filter(status=OutageStatus.ONGOING).order_by("actual_start", "id")[:100]),
        "recent": list(
            base.filter(
                status__in=[OutageStatus.RESTORED, OutageStatus.CANCELLED], created_at__gte=since
            ).order_by("-id")[:100]
        ),
    }


def outage_for(*, user, pk: int) -> Outage:
    return get_object_or_404(Outage.objects.visible_to(user).select_related("org_unit", "created_by"), pk=pk)


def notice_figures(outage: Outage) -> list:
    """The notice plan, each notice with its delivery figures from the outbox (one query for all)."""
    notices = list(outage.notices.order_by("due_at", "id"))
    if not notices:
        return []
    for notice in notices:
        notice.outage = outage  # their labels read the outage's times: no query per notice
    aggregates = {}
    for index, notice in enumerate(notices):
        prefix = Q(dedupe_key__startswith=notice.dedupe_prefix)
        aggregates[f"q{index}"] = Count(
            "pk",
            filter=prefix & Q(status__in=[Notification.Status.PENDING, Notification.Status.SENDING]),
        )
        aggregates[f"s{index}"] = Count("pk", filter=prefix & Q(status=Notification.Status.SENT))
        aggregates[f"f{index}"] = Count(
            "pk", filter=prefix & Q(status__in=[Notification.Status.FAILED, Notification.Status.SKIPPED])
        )
        # Withdrawn at restoration or cancellation: neither sent nor failed.
        aggregates[f"w{index}"] = Count("pk", filter=prefix & Q(status=Notification.Status.WITHDRAWN))
    figures = Notification.objects.filter(dedupe_key__startswith=f"outage:{outage.pk}:notice:").aggregate(
        **aggregates
    )
    for index, notice in enumerate(notices):
        notice.queued = figures[f"q{index}"]
        notice.sent = figures[f"s{index}"]
        notice.failed = figures[f"f{index}"]
        notice.withdrawn = figures[f"w{index}"]
    return notices


def sensitive_affected(outage: Outage) -> list[AffectedCustomer]:
    return list(
        outage.affected.filter(sensitive=True)
        .select_related("customer", "customer__manager", "customer__district")
        .order_by("customer__number")[:SENSITIVE_LIST_LIMIT]
    )


def outage_visits(outage: Outage) -> list[Visit]:
    return list(
        Visit.objects.filter(origin_key__startswith=f"outage:{outage.pk}:district:")
        .select_related("staff", "district")
        .order_by("id")
    )


def outage_complaints(*, user, outage: Outage, limit: int = 100) -> list[Ticket]:
    """Linked 停电 work orders the user may see, newest first."""
    return list(
        Ticket.objects.visible_to(user)
        .filter(outage_links__outage=outage)
        .select_related("customer")
        .order_by("-created_at", "-id")[:limit]
    )


def scope_choices(user) -> list[dict] | None:
    """Station → lines → districts (with customer counts) the user may choose from; three
    queries. None when the scope holds more than SCOPE_TREE_LIMIT districts (one query)."""
    if District.objects.visible_to(user)[SCOPE_TREE_LIMIT : SCOPE_TREE_LIMIT + 1].exists():
        return None
    lines = list(Line.objects.visible_to(user).select_related("station").order_by("station__name", "code"))
    districts = list(
        District.objects.visible_to(user)
        .filter(line__in=[line.pk for line in lines])
        .annotate(customer_count=Count("customers", filter=Q(customers__deleted_at__isnull=True)))
        .order_by("code")
    )
    by_line: dict[int, list] = {}
    for district in districts:
        by_line.setdefault(district.line_id, []).append(district)
    stations: dict[int, dict] = {}
    for line in lines:
        line.district_list = by_line.get(line.pk, [])
        line.customer_count = sum(d.customer_count for d in line.district_list)
        station = stations.setdefault(line.station_id, {"station": line.station, "lines": []})
        station["lines"].append(line)
    return list(stations.values())


def customer_outages(*, user, customer, limit: int = 20) -> list[Outage]:
    """The customer's outages, each with what the customer was told of it (`told`:
    notice, channel, state, time); two queries."""
    outages = list(
        Outage.objects.visible_to(user).filter(affected__customer=customer).order_by("-id")[:limit]
    )
    told: dict[str, list] = {}
    for record in customer_reach(customer=customer, topic_prefix="outage:"):
        told.setdefault(record.notice.topic_key, []).append(record)
    for outage in outages:
        outage.told = sorted(told.get(f"outage:{outage.pk}", []), key=lambda record: record.created_at)
    return outages


def _over_districts_of(user) -> Q:
    """Outages over a district the user manages, named directly or through its line."""
    return Q(pk__in=Outage.districts.through.objects.filter(district__manager=user).values("outage_id")) | Q(
        pk__in=Outage.lines.through.objects.filter(line__districts__manager=user).values("outage_id")
    )


def _frozen_rows():
    """Customers affected by a published outage, per outage in a subquery: its frozen rows."""
    return Coalesce(
        Subquery(
            AffectedCustomer.objects.filter(outage=OuterRef("pk"))
            .order_by()
            .values("outage")
            .annotate(n=Count("pk"))
            .values("n")
        ),
        Value(0),
    )


def _frozen_count():
    """The frozen count of a published outage; none for one not published yet (counted live
    afterwards: outages.services.live_affected_counts)."""
    return Case(
        When(published_at__isnull=False, then=_frozen_rows()), default=None, output_field=IntegerField()
    )


def workbench_outages(user, now=None, limit: int = WORKBENCH_LIMIT) -> tuple[list[Outage], int]:
    """Outages over the user's districts now and in the next WORKBENCH_DAYS days:
    ongoing ones, and planned or published ones starting by then (and not yet
    over), ongoing first, then by start. The first `limit` and the total; two queries
    (one when there is none), and one more when some of them are not published yet."""
    now = now or timezone.now()
    horizon = now + timedelta(days=WORKBENCH_DAYS)
    coming = Q(
        status__in=[OutageStatus.PLANNED, OutageStatus.PUBLISHED],
        planned_start__lte=horizon,
    ) & (Q(planned_end__isnull=True) | Q(planned_end__gt=now))
    outages = (
        Outage.objects.visible_to(user)
        .filter(_over_districts_of(user))
        .filter(Q(status=OutageStatus.ONGOING) | coming)
    )
    total = outages.count()
    if not total:
        return [], 0
    rows = list(
        outages.annotate(
            affected_count=_frozen_count(),
            ongoing_first=Case(When(status=OutageStatus.ONGOING, then=Value(0)), default=Value(1)),
            starts_at=Coalesce("actual_start", "planned_start"),
        ).order_by("ongoing_first", F("starts_at").asc(nulls_last=True), "id")[:limit]
    )
    live = live_affected_counts([row.pk for row in rows if row.affected_count is None])
    for row in rows:
        if row.affected_count is None:
            row.affected_count = live.get(row.pk, 0)
    return rows, total


def reach_of(outage: Outage, notices: list, *, notice_id=None, affected: int) -> dict:
    """Who was reached of a notice (the chosen one, else the first sent) and whether the
    outage counts as notified: its FIRST notice has fanned out and every affected
    customer of it was told (SMS delivered, e-mail sent, group post or WeCom message
    sent by its owner, or a phone call recorded as 已告知). Three queries (six when
    another notice is chosen)."""
    sent = [notice for notice in notices if notice.fanned_out_at]
    if not sent:
        return {"notice": None, "breakdown": None, "notified": False, "sent_notices": []}
    chosen = next((n for n in sent if str(n.pk) == str(notice_id or "")), sent[0])
    breakdown = notice_breakdown(notice_key=reach_key(chosen), affected=affected)
    first: Breakdown = (
        breakdown if chosen is sent[0] else notice_breakdown(notice_key=reach_key(sent[0]), affected=affected)
    )
    return {
        "notice": chosen,
        "breakdown": breakdown,
        "notified": affected > 0 and first.told >= affected,
        "first_told": first.told,
        "sent_notices": sent,
    }


def reach_customers(*, outage: Outage, notice_id, channel: str = "", state: str = ""):
    """The drill-down: one notice's customers by channel and state (404 for another outage's notice)."""
    notice = get_object_or_404(outage.notices.all(), pk=notice_id) if notice_id else None
    if notice is None:
        notice = outage.notices.filter(fanned_out_at__isnull=False).order_by("due_at", "id").first()
    if notice is None:
        return None, []
    return notice, list(notice_records(notice_key=reach_key(notice), channel=channel, state=state))
