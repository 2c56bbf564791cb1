"""A percentile aggregate that runs in SQL on both databases.

PostgreSQL has it built in: ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``.
SQLite has none, so every SQLite connection gets a small Python aggregate
function, ``crm_percentile(x, f)``, registered when it opens (see CoreConfig).
Both interpolate linearly between the closest ranks and ignore NULLs, so the
figure is the same on either database and is computed inside the same GROUP BY
as the other figures: a list or a dashboard costs one query on both.
"""

from __future__ import annotations

import math

from django.db.models import Aggregate, FloatField

SQLITE_PERCENTILE_FUNCTION = "crm_percentile"


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as percentile_cont does."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


class _SqlitePercentile:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return percentile(self.values, self.fraction)


def register_sqlite_percentile(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE_FUNCTION, 2, _SqlitePercentile)


class Percentile(Aggregate):
    """The `fraction` percentile (0 to 1) of a numeric expression, NULLs ignored; NULL over no rows.

    `Percentile(x, 0.5)` is the median: the mean of the two middle values for an even count.
    """

    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile's fraction lies between 0 and 1.")
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        # Aggregate.as_sql() builds its FILTER clause around `self.template`,
        # so each database's form goes on a copy rather than in extra_context.
        clone = self.copy()
        if connection.vendor == "postgresql":
            clone.template = f"PERCENTILE_CONT({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        elif connection.vendor == "sqlite":
            clone.template = f"{SQLITE_PERCENTILE_FUNCTION}(%(expressions)s, {self.fraction!r})"
        else:
            raise NotImplementedError("Percentile needs PostgreSQL or SQLite")
        return super(Percentile, clone).as_sql(compiler, connection, **extra_context)


class JSONList(Aggregate):
    """The non-NULL values of an expression as one JSON array (any order); ``[]`` over no rows.

    PostgreSQL's ``jsonb_agg``, SQLite's ``json_group_array``: for keeping a
    small list beside aggregate figures in the same GROUP BY.
    """

    name = "JSONList"
    allow_distinct = False

    def __init__(self, expression, **extra):
        from django.db.models import JSONField

        super().__init__(expression, output_field=JSONField(), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        clone = self.copy()
        if connection.vendor == "postgresql":
            clone.template = "%(function)s(%(expressions)s)"
            clone.function = "JSONB_AGG"
            sql, params = super(JSONList, clone).as_sql(compiler, connection, **extra_context)
            return f"COALESCE({sql}, '[]'::jsonb)", params
        if connection.vendor == "sqlite":
            clone.function = "JSON_GROUP_ARRAY"
            return super(JSONList, clone).as_sql(compiler, connection, **extra_context)
        raise NotImplementedError("JSONList needs PostgreSQL or SQLite")
