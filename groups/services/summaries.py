"""Keeping each group's GroupHealth row: the health figures lists read instead of the messages.

Every service that writes a group's messages (a customer's message, a reply,
an ingest batch, a broadcast) ends with `group_health_refresh` for the groups
it touched, inside its own transaction: the row is recomputed from that
group's messages (bounded by the group, index on group and time) under the
row's lock, so two replies at once both count — the second waits for the
first to commit and then reads both. A periodic refresh recomputes the rows
that time has made inexact (a deadline passed, an inquiry left the window)
and `refresh_group_health` rebuilds all of them for repair.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Value,
    When,
)
from django.utils import timezone

from core.aggregates import JSONList
from groups.models import GroupHealth, ServiceGroup
from groups.selectors import HEALTH_FIGURES, health_fresh_q, health_from_messages, health_window_start

REFRESH_BATCH = 500

_COLUMNS = (
    "owner_id",
    "window_days",
    "computed_at",
    "window_ends_at",
    "next_due_at",
    *HEALTH_FIGURES,
    "response_seconds",
)


def _upsert_sql(group_ids: list[int], now: datetime) -> tuple[str, tuple]:
    """One INSERT ... SELECT ... ON CONFLICT DO UPDATE computing the groups' rows from
    their messages in one GROUP BY (health_from_messages): one statement per refresh."""
    days = settings.GROUPS_HEALTH_DAYS
    recent = Q(messages__is_inquiry=True, messages__sent_at__gte=health_window_start(now))
    rows = (
        health_from_messages(ServiceGroup.objects.filter(pk__in=group_ids).order_by(), now)
        .annotate(
            h_window_days=Value(days, output_field=IntegerField()),
            h_computed_at=Value(now, output_field=DateTimeField()),
            h_window_ends_at=ExpressionWrapper(
                F("window_first_sent_at") + Value(timedelta(days=days)), output_field=DateTimeField()
            ),
            h_response_seconds=JSONList(
                "messages__response_seconds", filter=recent & Q(messages__answered_at__isnull=False)
            ),
        )
        .values(
            "pk",
            "owner_id",
            "h_window_days",
            "h_computed_at",
            "h_window_ends_at",
            "next_due_at",
            *HEALTH_FIGURES,
            "h_response_seconds",
        )
    )
    select, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    sources = ["pk", "owner_id", "h_window_days", "h_computed_at", "h_window_ends_at", "next_due_at"]
    sources += [*HEALTH_FIGURES, "h_response_seconds"]
    table = quote(GroupHealth._meta.db_table)
    columns = ", ".join(quote(column) for column in ("group_id", *_COLUMNS))
    picked = ", ".join(f"h.{quote(source)}" for source in sources)
    updates = ", ".join(f"{quote(column)} = excluded.{quote(column)}" for column in _COLUMNS)
    # "WHERE true" lets SQLite tell the SELECT's end from the ON CONFLICT clause.
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {picked} FROM ({select}) h WHERE true "
        f"ON CONFLICT (group_id) DO UPDATE SET {updates}"
    )
    return sql, params


@transaction.atomic(savepoint=False)
def group_health_refresh(
    *, group_ids: Iterable[int], now: datetime | None = None, locked: bool = False
) -> None:
    """Recompute the GroupHealth rows of these groups from their messages, in one statement.

    Writers of a group's messages hold the group's row lock (`locked`: the
    caller already does, as every message service must) from before they
    write until they commit, so a concurrent writer of the same group
    recomputes after this one's messages are committed and counts them.
    Otherwise the groups are locked here, in id order.
    """
    ids = sorted(set(group_ids))
    if not ids:
        return
    now = now or timezone.now()
    if not locked:
        list(ServiceGroup.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    sql, params = _upsert_sql(ids, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refresh_in_batches(group_ids: list[int], now: datetime | None, batch: int) -> int:
    refreshed = 0
    for start in range(0, len(group_ids), batch):
        chunk = group_ids[start : start + batch]
        group_health_refresh(group_ids=chunk, now=now)
        refreshed += len(chunk)
    return refreshed


def group_health_refresh_stale(*, now: datetime | None = None, batch: int = REFRESH_BATCH) -> int:
    """Recompute the rows that are missing or no longer exact now; returns how many.

    One query finds them; each batch is a few statements. Run every few
    minutes, so lists rarely fall back to a group's messages.
    """
    now = now or timezone.now()
    fresh = Case(
        When(health_fresh_q(now), then=Value(True)), default=Value(False), output_field=BooleanField()
    )
    stale = list(
        ServiceGroup.objects.alias(fresh=fresh)
        .filter(fresh=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _refresh_in_batches(stale, now, batch)


def group_health_refresh_all(*, batch: int = REFRESH_BATCH) -> int:
    """Recompute every group's row from its messages (repair, and after a bulk load)."""
    ids = list(ServiceGroup.objects.order_by("pk").values_list("pk", flat=True))
    return _refresh_in_batches(ids, None, batch)
