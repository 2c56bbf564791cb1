"""Keyset (cursor) pagination for large lists (ARCHITECTURE rule 6).

Rows are ordered by descending id. `?after=<id>` shows the rows below that id
(the next page), `?before=<id>` the rows above it (the previous page). Each
page reads `page_size + 1` rows to learn whether there is more; there is never
a COUNT(*) or an OFFSET, so page 1,000 costs what page 1 costs and a row
inserted meanwhile never shifts the pages.

A list narrowed to a few units (`by_unit`: a county's stations) is read unit
by unit on PostgreSQL: each unit's newest rows through its (unit, id) index,
merged. Ordered by id alone, the planner walks the table's ids and skips the
other units' rows, which interleave with the unit's: the page would cost the
whole table (a prefecture), not the units' rows (the county).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import F, Field, Func, QuerySet
from django.db.models.expressions import RawSQL

# Past this many units a branch per unit (planned, then read a page deep) costs
# more than walking the ids: such a scope (a prefecture's hundred stations)
# holds most of the table anyway.
MERGE_MAX_UNITS = 32


@dataclass
class KeysetPage:
    items: list[Any] = field(default_factory=list)
    has_next: bool = False
    has_previous: bool = False

    @property
    def next_after(self) -> int | None:
        """The `after` value of the next page's link, or None on the last page."""
        return self.items[-1].pk if self.has_next and self.items else None

    @property
    def previous_before(self) -> int | None:
        """The `before` value of the previous page's link, or None on the first page."""
        return self.items[0].pk if self.has_previous and self.items else None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _cursor(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        cursor = int(value)
    except (TypeError, ValueError):
        return None
    return cursor if cursor > 0 else None


def first_ids_by_unit(
    queryset: QuerySet, order: str, count: int, by_unit: tuple[str, Sequence[int]] | None
) -> QuerySet | None:
    """The ids of the first `count` rows of `queryset` ordered by `order` ("pk" or "-pk"),
    read unit by unit; None where that read does not apply.

    `by_unit` (a unit column and the ids `queryset` is already narrowed to):
    each unit's first `count` ids, read through its (unit, id) index, then the
    first `count` of those; the same ids as the plain query's. It applies on
    PostgreSQL to 2..MERGE_MAX_UNITS units.
    """
    if by_unit is None:
        return None
    column, units = by_unit
    # SQLite allows no LIMIT inside a UNION's branches; a single unit needs no merge.
    if connections[queryset.db].vendor != "postgresql" or not 1 < len(units) <= MERGE_MAX_UNITS:
        return None
    # The unit as a range of one, ordered by (unit, id): an equality would let the
    # planner drop the unit from the order and walk the table's ids instead of the
    # unit's index, as it does when one unit holds a tenth of the rows.
    direction = "-" if order.startswith("-") else ""
    first, *others = [
        queryset.filter(**{f"{column}__gte": unit, f"{column}__lte": unit})
        .order_by(f"{direction}{column}", order)
        .values("pk")[:count]
        for unit in sorted(set(units))
    ]
    return first.union(*others, all=True).order_by(order)[:count]


def merged_unit_firsts(
    queryset: QuerySet, order: Sequence[str], count: int, *, column: str, units: Sequence[int]
) -> RawSQL:
    """The ids of the first `count` rows of `queryset` ordered by `order` (field names, a
    leading "-" for descending), read unit by unit: each unit's first `count` rows (the
    rows whose `column` is that unit) in that order, then the first `count` of them all.
    PostgreSQL only; for `pk__in=`.

    Each unit's rows come with their sort key, so the merge orders them by that key
    alone. Merging ids would read every candidate again to learn its key: a
    prefecture's hundred units times a page is 5,000 lookups by primary key, most of
    the statement's time, where a unit's index holding the key and the conditions
    is read index-only. In SQL: for each unit, ARRAY(SELECT ROW(key…) … LIMIT count),
    unnested with its columns named, then ORDER BY the key LIMIT count.
    """
    connection = connections[queryset.db]
    meta = queryset.model._meta
    fields = [meta.pk if name.lstrip("-") == "pk" else meta.get_field(name.lstrip("-")) for name in order]
    per_unit = (
        queryset.filter(**{column: RawSQL("units.id", ())})
        .order_by(*order)
        .values_list(Func(*(F(field.name) for field in fields), function="ROW", output_field=Field()))[:count]
    )
    inner, params = per_unit.query.sql_with_params()
    key = ", ".join(f"k{i} {field.db_type(connection)}" for i, field in enumerate(fields))
    ordering = ", ".join(f"k{i} {'DESC' if name.startswith('-') else 'ASC'}" for i, name in enumerate(order))
    pk = next(i for i, field in enumerate(fields) if field.primary_key)
    return RawSQL(
        f"SELECT k{pk} FROM unnest(%s::bigint[]) AS units(id) "
        f"CROSS JOIN LATERAL unnest(ARRAY({inner})) AS k({key}) ORDER BY {ordering} LIMIT %s",
        (sorted(set(units)), *params, count),
    )


def first_rows(
    queryset: QuerySet, order: str, count: int, by_unit: tuple[str, Sequence[int]] | None = None
) -> list:
    """The first `count` rows of `queryset` ordered by `order` ("pk" or "-pk").

    `by_unit`: read unit by unit where `first_ids_by_unit` applies; the same
    rows as the plain query.
    """
    queryset = queryset.order_by(order)
    ids = first_ids_by_unit(queryset, order, count, by_unit)
    if ids is not None:
        # Ordered and cut again, so that only the page's rows are joined to what a row shows.
        queryset = queryset.filter(pk__in=ids)
    return list(queryset[:count])


def keyset_paginate(
    queryset: QuerySet,
    *,
    params: Mapping[str, Any],
    page_size: int,
    by_unit: tuple[str, Sequence[int]] | None = None,
) -> KeysetPage:
    """One page of `queryset` in descending id order, positioned by `after` or `before` in `params`.

    A cursor that is not a positive integer is ignored (first page). `by_unit`:
    see `first_rows`.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    after = _cursor(params, "after")
    before = _cursor(params, "before") if after is None else None

    if before is not None:
        rows = first_rows(queryset.filter(pk__gt=before), "pk", page_size + 1, by_unit)
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        rows.reverse()
        return KeysetPage(items=rows, has_next=True, has_previous=has_more)

    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = first_rows(queryset, "-pk", page_size + 1, by_unit)
    has_more = len(rows) > page_size
    return KeysetPage(items=rows[:page_size], has_next=has_more, has_previous=after is not None)
