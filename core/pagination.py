"""Keyset (cursor) pagination for large lists (ARCHITECTURE rule 6).

Rows are ordered by descending id. `?after=<id>` shows the rows below that id
(the next page), `?before=<id>` the rows above it (the previous page). Each
page reads `page_size + 1` rows to learn whether there is more; there is never
a COUNT(*) or an OFFSET, so page 1,000 costs what page 1 costs and a row
inserted meanwhile never shifts the pages.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet


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


def keyset_paginate(queryset: QuerySet, *, params: Mapping[str, Any], page_size: int) -> KeysetPage:
    """One page of `queryset` in descending id order, positioned by `after` or `before` in `params`.

    A cursor that is not a positive integer is ignored (first page).
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    after = _cursor(params, "after")
    before = _cursor(params, "before") if after is None else None

    if before is not None:
        rows = list(queryset.filter(pk__gt=before).order_by("pk")[: page_size + 1])
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        rows.reverse()
        return KeysetPage(items=rows, has_next=True, has_previous=has_more)

    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = list(queryset.order_by("-pk")[: page_size + 1])
    has_more = len(rows) > page_size
    return KeysetPage(items=rows[:page_size], has_next=has_more, has_previous=after is not None)
