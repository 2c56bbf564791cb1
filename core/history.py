"""Change history read and written the same way for every model that keeps one (django-simple-history).

Reading: `records_with_predecessors` pairs each version with the one before
it in one query, `format_value` shows a field of a version as a person reads
it, `HistoryRow` is one line of a "变更记录" list.

Writing: `insert_baseline_history` gives every row that has no version yet
its first one ("created"), set-based, for rows written without the ORM's
signals (bulk_create, INSERT ... SELECT, data that predates the history).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Max, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _


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


def records_with_predecessors(
    history: QuerySet, limit: int, related: tuple[str, ...] = ()
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
    in_window = model.objects.filter(history_id__in=window).order_by()
    predecessors = in_window.values(previous=Subquery(previous_id))
    # One IN over a UNION: with an OR of two INs PostgreSQL scans the whole
    # history table backwards instead of fetching the few ids by primary key.
    # (The window goes in unsliced: SQLite takes no LIMIT inside a UNION.)
    records = list(
        model.objects.filter(history_id__in=in_window.values("history_id").union(predecessors))
        .select_related("history_user", *related)
        .order_by("-history_id")
    )
    previous: dict[int, Any] = {}
    last_seen: dict[Any, Any] = {}
    for record in reversed(records):
        previous[record.history_id] = last_seen.get(record.id)
        last_seen[record.id] = record
    return [(record, previous[record.history_id]) for record in records[:limit]]


def format_value(record, field) -> str:
    """A field of a history record as a person reads it: labels for choices, 是/否, local times."""
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


BASELINE_BATCH = 5000


def insert_baseline_history(
    model, history_model, *, date_field: str = "created_at", batch_size: int = BASELINE_BATCH
) -> int:
    """Give every row of `model` without a history record its first one ("+"), dated `date_field`.

    `INSERT ... SELECT` over id ranges of `batch_size`, so no Python object per
    row; the same SQL runs on SQLite and PostgreSQL. Works with the models of
    a migration's state too (pass `apps.get_model(...)`). The acting user is
    unknown (shown as 系统). Returns the number of records written.
    """
    quote = connection.ops.quote_name
    source_columns = {field.attname: field.column for field in model._meta.concrete_fields}
    names, expressions = [], []
    for field in history_model._meta.concrete_fields:
        if field.name == "history_id":
            continue
        if field.name == "history_date":
            expression = f"s.{quote(model._meta.get_field(date_field).column)}"
        elif field.name == "history_type":
            expression = "'+'"
        elif field.attname in source_columns:
            expression = f"s.{quote(source_columns[field.attname])}"
        elif field.null:
            expression = "NULL"  # history_user, history_change_reason
        else:
            raise ValueError(f"{history_model.__name__}.{field.name} has no value for a baseline")
        names.append(quote(field.column))
        expressions.append(expression)
    pk = quote(model._meta.pk.column)
    history_pk = quote(history_model._meta.get_field("id").column)
    statement = (
        f"INSERT INTO {quote(history_model._meta.db_table)} ({', '.join(names)}) "
        f"SELECT {', '.join(expressions)} FROM {quote(model._meta.db_table)} s "
        f"WHERE s.{pk} >= %s AND s.{pk} < %s AND NOT EXISTS "
        f"(SELECT 1 FROM {quote(history_model._meta.db_table)} h WHERE h.{history_pk} = s.{pk})"
    )
    bounds = model._base_manager.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return 0
    written = 0
    with connection.cursor() as cursor:
        for start in range(bounds["low"], bounds["high"] + 1, batch_size):
            cursor.execute(statement, [start, start + batch_size])
            written += max(cursor.rowcount, 0)
    return written
