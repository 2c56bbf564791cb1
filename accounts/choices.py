"""What a user may pick in a form or a filter bar: units, stations and staff within their reach.

Every choice list climbs the same ladder (`within_reach`):
- nobody signed in, or an inactive account → nothing;
- an administrator → everything;
- a user without an org unit → nothing;
- anybody else → what sits in their unit's subtree (one prefix match on the
  unit's materialized path).

Rows a user may read go through `visible_to` (accounts.scoping) instead: an
account manager reads their own unit's rows, but picks among their subtree's.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from accounts.models import OrgUnit, User

M = TypeVar("M", bound=Model)


def within_reach(
    queryset: QuerySet[M],
    user: User | None,
    *,
    unit_path: str,
    own: Callable[[User], Q] | None = None,
) -> QuerySet[M]:
    """The rows of `queryset` a user may choose, by the unit each row sits in.

    `unit_path` is the lookup from a row to its unit's path ("path" for units,
    "org_unit__path" for people). `own`, for choices only supervisors make for
    others (who owns a group, which unit shares a template), is what anybody
    else may choose instead of their subtree: themselves, their own unit.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_administrator:
        return queryset
    if not user.org_unit_id:
        return queryset.none()
    if own is not None and not user.is_supervisor:
        return queryset.filter(own(user))
    return queryset.filter(**{f"{unit_path}__startswith": user.org_unit.path})


def active_staff() -> QuerySet[User]:
    """Active users who sit in a unit, by name: everyone a choice of people starts from."""
    return User.objects.filter(is_active=True, org_unit__isnull=False).order_by("real_name", "id")


def units_for(user: User | None) -> QuerySet[OrgUnit]:
    """Org units of the user's subtree, top down; every unit for an administrator."""
    return within_reach(OrgUnit.objects.order_by("path"), user, unit_path="path")


def stations_for(user: User | None) -> QuerySet[OrgUnit]:
    """Stations of the user's subtree (for a station user: their own station); all for an administrator."""
    return units_for(user).filter(level=OrgUnit.Level.STATION)


def staff_for(user: User | None) -> QuerySet[User]:
    """Active users of the user's subtree (assignees to filter by, trackers to name)."""
    return within_reach(active_staff(), user, unit_path="org_unit__path")


def account_managers_for(user: User | None) -> QuerySet[User]:
    """Account managers of the user's subtree: who the user may name as a customer's manager."""
    return staff_for(user).filter(role=User.Role.ACCOUNT_MANAGER)


def staff_of_unit(unit_id: int | None) -> QuerySet[User]:
    """Active users who sit in exactly that unit: who an order of the unit may go to."""
    if not unit_id:
        return User.objects.none()
    return active_staff().filter(org_unit_id=unit_id)
