"""The one gate between a user and the rows they may see (ARCHITECTURE rule 1).

A model's QuerySet inherits `ScopedQuerySet` and names two paths:
- `scope_owner_field`: the user who owns the row (an account manager), or
  None for rows nobody owns personally (lines, districts);
- `scope_unit_field`: the org unit the row belongs to.

Then:
- an administrator sees every row;
- a supervisor, and an integration account (a system such as 95598 reading
  over the API), sees the rows of their unit's subtree;
- an account manager sees the rows they own plus the rows of their own unit;
- anybody else (anonymous, inactive, no unit) sees nothing.

Scope first: a subtree is narrowed by the ids of its units (`unit IN (ids)`, on
the rows' own indexed unit column), never by a join to the units' paths. The
ids are looked up once per user object (one request, one task) and kept in the
shared cache under the org tree's version, which every save or deletion of a
unit bumps (a unit's path changes only in `OrgUnit.save`); a cached list also
expires after SUBTREE_CACHE_SECONDS, whatever happens. A planner given the
list estimates the county's rows from the column's statistics and reaches them
by the unit's index, instead of reading the prefecture's rows and testing each
one's unit path.

Views fetch single objects through `visible_to(user)` too, so an object out of
scope answers 404, not 403.
"""

import logging
import time

from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Q, Subquery

logger = logging.getLogger(__name__)

TREE_VERSION_KEY = "crm:orgtree:version"
SUBTREE_CACHE_SECONDS = 3600
# Bumped in this process on every change of the tree, so a list kept on a user
# object that outlives the change (a shell, a test, a long task) is looked up again.
_local_generation = 0


class ScopedQuerySet(models.QuerySet):
    scope_owner_field: str | None = "owner"
    scope_unit_field: str = "org_unit"

    def visible_to(self, user, *, unit_ids: "bool | list[int]" = False) -> "ScopedQuerySet":
        """`unit_ids`: a list is taken as the ids of the supervisor's subtree,
        already looked up by the caller (e.g. the sync feed, keyed by its own
        tree version); otherwise they are looked up here (`subtree_unit_ids`)."""
        settled = self.settled_for(user)
        if settled is not None:
            return settled
        if user.sees_subtree:
            ids = unit_ids if isinstance(unit_ids, list) else subtree_unit_ids(user)
            return self.filter(**{f"{self.scope_unit_field}__in": ids})
        mine = Q(**{self.scope_unit_field: user.org_unit_id})
        if self.scope_owner_field:
            mine |= Q(**{self.scope_owner_field: user})
        return self.filter(mine | self.also_visible_to(user))

    def scope_unit_ids(self, user) -> list[int] | None:
        """The unit ids `visible_to(user)` narrows the rows by when a subtree alone
        decides (a supervisor, an integration account); None for anybody else."""
        if self.settled_for(user) is not None or not user.sees_subtree:
            return None
        return subtree_unit_ids(user)

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
    """The ids of the user's unit and every unit below it: looked up once per user
    object (so once per request), from the shared cache when another request has."""
    memo = user.__dict__.get("_subtree_unit_ids")
    if memo is not None and memo[0] == (_local_generation, user.org_unit_id):
        return memo[1]
    ids = unit_subtree_ids(user.org_unit_id)
    user.__dict__["_subtree_unit_ids"] = ((_local_generation, user.org_unit_id), ids)
    return ids


def unit_subtree_ids(unit_id: int) -> list[int]:
    """The ids of a unit and every unit below it (the shared cache, or one query)."""
    key = f"crm:orgtree:{tree_version()}:subtree:{unit_id}"
    ids = cache.get(key)
    if ids is None:
        from accounts.models import OrgUnit

        own_path = OrgUnit.objects.filter(pk=unit_id).values("path")
        units = OrgUnit.objects.filter(path__startswith=Subquery(own_path))
        ids = sorted(units.values_list("pk", flat=True))
        cache.set(key, ids, SUBTREE_CACHE_SECONDS)
    return ids


def tree_version() -> int:
    """The org tree's version in the shared cache. A missing one (never set,
    evicted, the cache emptied) starts from the clock, so it never comes back
    to a value whose cached lists could describe another tree."""
    version = cache.get(TREE_VERSION_KEY)
    if version is None:
        version = time.time_ns()
        if not cache.add(TREE_VERSION_KEY, version, None):
            version = cache.get(TREE_VERSION_KEY) or version
    return version


def bump_tree_version() -> None:
    """A unit was added, moved, renamed or removed: every cached subtree is stale.
    Bumped now and again once the change commits, so a list read by another
    process in between (without the change) is not kept under the new version."""
    global _local_generation
    _local_generation += 1
    _bump_shared_version()
    transaction.on_commit(_bump_shared_version)


def _bump_shared_version() -> None:
    try:
        cache.incr(TREE_VERSION_KEY)
    except ValueError:
        # Missing (or the cache is away): a fresh start from the clock.
        cache.set(TREE_VERSION_KEY, time.time_ns(), None)


def get_visible_or_404(queryset: ScopedQuerySet, user, **lookup):
    from django.shortcuts import get_object_or_404

    return get_object_or_404(queryset.visible_to(user), **lookup)
