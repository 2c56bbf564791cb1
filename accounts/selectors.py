"""Reads about the org tree and its people that several apps share."""

from collections.abc import Callable

from accounts.models import OrgUnit, User, ancestor_paths


def supervisor_chain() -> Callable[[str], list[list[int]]]:
    """unit path → ids of the supervisors of that unit and of each unit above
    it that has any, nearest first.

    One query for all active supervisors (a few hundred at most); a scan calls
    this once and then looks up every row's unit path in memory. Escalation
    walks the chain one level per step; a reminder goes to `chain(path)[0]`.
    """
    by_path: dict[str, list[int]] = {}
    for user_id, path in User.objects.filter(
        role=User.Role.SUPERVISOR, is_active=True, org_unit__isnull=False
    ).values_list("id", "org_unit__path"):
        by_path.setdefault(path, []).append(user_id)

    def chain(unit_path: str) -> list[list[int]]:
        return [sorted(by_path[p]) for p in reversed(ancestor_paths(unit_path)) if p in by_path]

    return chain


def nearest_supervisors(unit: OrgUnit) -> list[User]:
    """The supervisors of the unit, or of the nearest unit above it that has some."""
    supervisors = list(
        User.objects.filter(
            role=User.Role.SUPERVISOR, is_active=True, org_unit__path__in=ancestor_paths(unit.path)
        ).select_related("org_unit")
    )
    if not supervisors:
        return []
    nearest = max(len(s.org_unit.path) for s in supervisors)
    return [s for s in supervisors if len(s.org_unit.path) == nearest]
