"""Who sees the dashboard, and over which units."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User
from accounts.scoping import subtree_unit_ids


def can_view_dashboard(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_administrator or (user.is_supervisor and user.org_unit_id))
    )


def scope_path(user: User) -> str | None:
    """The path prefix of the units the user oversees; None for every unit."""
    return None if user.is_administrator else user.org_unit.path


def scope_unit_ids(user: User) -> list[int] | None:
    """The ids of the units the user oversees (accounts.scoping); None for every unit."""
    return None if user.is_administrator else subtree_unit_ids(user)


def in_scope(units: list[int] | None, unit_field: str) -> Q:
    """Rows whose `unit_field` is one of `units` (every row when None): the scope's
    rows are found by their own unit column first, never by a join to the units."""
    return Q() if units is None else Q(**{f"{unit_field}__in": units})
