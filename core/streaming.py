"""Reading every row of a large query in chunks (exports)."""

from collections.abc import Iterator
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet


def read_all(queryset: QuerySet, *, chunk_size: int) -> Iterator[Any]:
    """Every row of `queryset`, fetched `chunk_size` at a time, planned for reading them all.

    Django streams `.iterator()` through a server-side cursor on PostgreSQL,
    and PostgreSQL plans a cursor for its first tenth of the rows
    (cursor_tuple_fraction): a list sorted by id is then read by walking the
    whole table's primary key backwards (a million rows for a manager's ten
    thousand) instead of fetching the scope's rows by index and sorting them.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk_size)
        return
    with transaction.atomic(using=queryset.db, savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        yield from queryset.iterator(chunk_size=chunk_size)
