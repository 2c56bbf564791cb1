"""The one gate between a user and the rows they may see (ARCHITECTURE rule 1).

A model's QuerySet inherits `ScopedQuerySet` and names two paths:
- `scope_owner_field`: the user who owns the row (an account manager), or
  None for rows nobody owns personally (lines, districts);
- `scope_unit_field`: the org unit the row belongs to.

Then:
- an administrator sees every row;
- a supervisor, and an integration account (a system such as 95598 reading
  over the API), sees the rows of their unit's subtree (one prefix match on
  the unit's materialized path);
- an account manager sees the rows they own plus the rows of their own unit;
- anybody else (anonymous, inactive, no unit) sees nothing.

Views fetch single objects through `visible_to(user)` too, so an object out of
scope answers 404, not 403.
"""

from django.db import models
from django.db.models import Q, Subquery


class ScopedQuerySet(models.QuerySet):
    scope_owner_field: str | None = "owner"
    scope_unit_field: str = "org_unit"

    def visible_to(self, user, *, unit_ids: "bool | list[int]" = False) -> "ScopedQuerySet":
        """`unit_ids`: a supervisor's units are looked up first and the rows
        filtered on that list of ids instead of joined to the units. For walks
        in another index's order (the sync feed): the planner, expecting few
        rows, would otherwise rescan the units for every row it passes. A list
        is taken as the ids of the supervisor's subtree, already looked up
        (`subtree_unit_ids`, e.g. cached by the caller)."""
        settled = self.settled_for(user)
        if settled is not None:
            return settled
        if user.sees_subtree:
            if isinstance(unit_ids, list):
                return self.filter(**{f"{self.scope_unit_field}__in": unit_ids})
            if unit_ids:
                return self.filter(**{f"{self.scope_unit_field}__in": subtree_unit_ids(user)})
            return self.filter(**{f"{self.scope_unit_field}__path__startswith": user.org_unit.path})
        mine = Q(**{self.scope_unit_field: user.org_unit_id})
        if self.scope_owner_field:
            mine |= Q(**{self.scope_owner_field: user})
        return self.filter(mine | self.also_visible_to(user))

    def settled_for(self, user) -> "ScopedQuerySet | None":
        """Every row for an administrator, none for anybody who sees nothing
        (anonymous, inactive, no unit); None when the user's unit decides."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_administrator:
            return self
        if not user.org_unit_id:
            return self.none()
        return None

    def also_visible_to(self, user) -> Q:
        """Rows an account manager sees for another reason (e.g. tracking them)."""
        return Q(pk__in=[])


def subtree_unit_ids(user) -> list[int]:
    """The ids of the user's unit and every unit below it, in one query (the unit's
    path is read inside it, whether or not the user's unit is loaded yet)."""
    from accounts.models import OrgUnit

    own_path = OrgUnit.objects.filter(pk=user.org_unit_id).values("path")
    units = OrgUnit.objects.filter(path__startswith=Subquery(own_path))
    return list(units.values_list("pk", flat=True))


def get_visible_or_404(queryset: ScopedQuerySet, user, **lookup):
    from django.shortcuts import get_object_or_404

    return get_object_or_404(queryset.visible_to(user), **lookup)
