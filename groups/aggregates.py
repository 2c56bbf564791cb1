"""A median aggregate that runs in SQL on both databases.

PostgreSQL has it built in: ``percentile_cont(0.5) WITHIN GROUP (ORDER BY x)``.
SQLite has no median, so every SQLite connection gets a small Python aggregate
function, ``groups_median``, registered when it opens. Both compute the same
value (the mean of the two middle values for an even count), inside the same
GROUP BY as the other figures, so a list costs one query on either database.
"""

import statistics

from django.db.models import Aggregate, FloatField

SQLITE_MEDIAN_FUNCTION = "groups_median"


class _SqliteMedian:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return float(statistics.median(self.values)) if self.values else None


def register_sqlite_median(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_MEDIAN_FUNCTION, 1, _SqliteMedian)


class Median(Aggregate):
    """The median of a numeric column (NULLs ignored); NULL over no rows."""

    name = "Median"
    output_field = FloatField()
    allow_distinct = False

    def as_postgresql(self, compiler, connection, **extra_context):
        # Aggregate.as_sql() builds its FILTER clause around `self.template`,
        # so the ordered-set form goes on a copy rather than in extra_context.
        clone = self.copy()
        clone.function = "PERCENTILE_CONT"
        clone.template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
        return clone.as_sql(compiler, connection, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function=SQLITE_MEDIAN_FUNCTION, **extra_context)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError("Median needs PostgreSQL or SQLite")
        return super().as_sql(compiler, connection, **extra_context)
