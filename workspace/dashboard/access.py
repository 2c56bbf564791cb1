"""Who sees the dashboard, and over which units."""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User


def can_view_dashboard(user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_administrator or (user.is_supervisor and user.org_unit_id))
    )


def scope_path(user: User) -> str | None:
    """The path prefix of the units the user oversees; None for every unit."""
    return None if user.is_administrator else user.org_unit.path


def in_scope(path: str | None, unit_field: str) -> Q:
    """Rows whose `unit_field` lies under `path` (every row when None)."""
    return Q(**{f"{unit_field}__path__startswith": path}) if path else Q()
