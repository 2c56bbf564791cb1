"""Reads for the outage pages."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from customers.models import District, Line, Visit
from notifications.models import Notification
from outages.models import AffectedCustomer, Outage, OutageStatus

RECENT_DAYS = 30
SENSITIVE_LIST_LIMIT = 200


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
    figures = Notification.objects.filter(dedupe_key__startswith=f"outage:{outage.pk}:notice:").aggregate(
        **aggregates
    )
    for index, notice in enumerate(notices):
        notice.queued = figures[f"q{index}"]
        notice.sent = figures[f"s{index}"]
        notice.failed = figures[f"f{index}"]
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
        .select_related("staff", "customer")
        .order_by("id")
    )


def scope_choices(user) -> list[dict]:
    """Station → lines → districts (with customer counts) the user may choose from; three queries."""
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
    return list(Outage.objects.visible_to(user).filter(affected__customer=customer).order_by("-id")[:limit])
