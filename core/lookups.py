"""`field IN (subquery)` that PostgreSQL can still read through the field's index inside an OR.

PostgreSQL plans `x IN (SELECT …)` under an OR as a SubPlan tested row by row,
so an OR with it (an account manager's orders: their unit's, OR their own, OR
their customers') leaves the planner no index to start from: it reads every
row. `x = ANY(ARRAY(SELECT …))` is evaluated once (an InitPlan) and its array
is an index condition like any other, so the OR becomes a BitmapOr of index
scans. Other databases get the plain IN, which means the same.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import BooleanField, Expression, F, Q, QuerySet, Subquery


class AnyOf(Expression):
    """A condition for `filter()` or `Q()`: the row's `field` is one of the values `queryset` selects."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str, queryset: QuerySet):
        super().__init__()
        self.lhs = F(field)
        self.rhs = Subquery(queryset)

    def get_source_expressions(self):
        return [self.lhs, self.rhs]

    def set_source_expressions(self, exprs):
        self.lhs, self.rhs = exprs

    def as_sql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


class InValues(Expression):
    """A condition: the row's `field` is one of `values` (ids found by an earlier query).

    `field IN (%s, %s, …)` with thousands of values is thousands of parameters to
    send, parse and plan in every statement that repeats it; on PostgreSQL the
    values go as one array parameter, `field = ANY(%s)`, which means the same."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str, values):
        super().__init__()
        self.lhs = F(field)
        self.values = sorted(values)

    def get_source_expressions(self):
        return [self.lhs]

    def set_source_expressions(self, exprs):
        (self.lhs,) = exprs

    def as_sql(self, compiler, connection):
        if not self.values:
            raise EmptyResultSet
        lhs, params = compiler.compile(self.lhs)
        return f"{lhs} IN ({', '.join(['%s'] * len(self.values))})", (*params, *self.values)

    def as_postgresql(self, compiler, connection):
        if not self.values:
            raise EmptyResultSet
        lhs, params = compiler.compile(self.lhs)
        return f"{lhs} = ANY(%s)", (*params, self.values)


# The SQL function the two-character search reads through (core migration 0003): the
# distinct two-character pieces of a text, upper-cased as Django's icontains compares.
BIGRAMS_FUNCTION = "crm_bigrams"


class ContainsPair(Expression):
    """A condition: the row's text `field` contains the two-character `term`, case aside
    (what `field__icontains=term` means).

    pg_trgm's indexes cannot answer a fragment of two characters (a trigram needs
    three), so PostgreSQL would read every row of the scope for a two-character name
    such as 王伟. There the condition is `crm_bigrams(field) @> ARRAY[UPPER(term)]`,
    which a GIN index on `crm_bigrams(field)` answers; elsewhere it is the plain LIKE.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, field: str, term: str):
        super().__init__()
        if len(term) != 2:
            raise ValueError("ContainsPair takes a term of two characters")
        self.lhs = F(field)
        self.term = term

    def get_source_expressions(self):
        return [self.lhs]

    def set_source_expressions(self, exprs):
        (self.lhs,) = exprs

    def as_sql(self, compiler, connection):
        # Exactly Django's icontains on this database.
        lhs, params = compiler.compile(self.lhs)
        lhs = connection.ops.lookup_cast("icontains") % lhs
        pattern = f"%{connection.ops.prep_for_like_query(self.term)}%"
        return f"{lhs} {connection.operators['icontains'] % '%s'}", (*params, pattern)

    def as_postgresql(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        return f"{BIGRAMS_FUNCTION}({lhs}) @> ARRAY[UPPER(%s)]", (*params, self.term)


def contains_condition(field: str, fragment: str, lookup: str = "icontains") -> Q | ContainsPair:
    """`field` contains `fragment` (`lookup`: as the column's trigram index reads it), through
    an index on PostgreSQL: two characters through their own (`ContainsPair`; a trigram
    needs three), longer fragments through the column's pg_trgm index. A column stored in
    lower case (a name's pinyin) means the same by the two-character way, which ignores case."""
    if len(fragment) == 2:
        return ContainsPair(field, fragment)
    return Q(**{f"{field}__{lookup}": fragment})
