"""`field IN (subquery)` that PostgreSQL can still read through the field's index inside an OR.

PostgreSQL plans `x IN (SELECT …)` under an OR as a SubPlan tested row by row,
so an OR with it (an account manager's orders: their unit's, OR their own, OR
their customers') leaves the planner no index to start from: it reads every
row. `x = ANY(ARRAY(SELECT …))` is evaluated once (an InitPlan) and its array
is an index condition like any other, so the OR becomes a BitmapOr of index
scans. Other databases get the plain IN, which means the same.
"""

from __future__ import annotations

from django.db.models import BooleanField, Expression, F, QuerySet, Subquery


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
