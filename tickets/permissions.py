"""Who may take which step of a work order, and from which status.

The lifecycle's steps, the statuses each may start from and where it leads;
the roles that may take each (the handler, a supervisor of the order's unit,
the tracker of a transfer, who may urge it). Every step in tickets.services asks here before it
writes; pages and the API ask here which steps to offer.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, User
from tickets.models import OPEN_STATUSES, Status, Ticket, TicketEvent

Action = TicketEvent.Action

# Which statuses each step may start from, and where it leads.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    Action.DISPATCHED: ((Status.NEW, Status.RETURNED), Status.DISPATCHED),
    # 改派: before work starts; the order keeps its status and clocks (an in-progress order is transferred).
    Action.REASSIGNED: ((Status.DISPATCHED, Status.SIGNED), None),
    Action.SIGNED: ((Status.DISPATCHED,), Status.SIGNED),
    Action.STARTED: ((Status.SIGNED,), Status.IN_PROGRESS),
    Action.RETURNED: ((Status.DISPATCHED, Status.SIGNED), Status.RETURNED),
    Action.TRANSFERRED: ((Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS), Status.DISPATCHED),
    Action.URGED: (OPEN_STATUSES, None),
    Action.RESOLVED: ((Status.SIGNED, Status.IN_PROGRESS), Status.RESOLVED),
    Action.RETURN_VISIT: ((Status.RESOLVED,), Status.VISITED),
    Action.REOPENED: ((Status.RESOLVED, Status.VISITED), Status.IN_PROGRESS),
    Action.ARCHIVED: ((Status.VISITED,), Status.ARCHIVED),
}


class TransitionError(ValidationError):
    """The order's status does not allow this step."""


# --- Who may do what ---------------------------------------------------------


def _is_monitor(user: User, ticket: Ticket) -> bool:
    """Supervisors of the order's unit (or above) and administrators."""
    if user.is_administrator:
        return True
    return user.is_supervisor and user.org_unit_id is not None and ticket.org_unit.is_within(user.org_unit)


def _is_handler(user: User, ticket: Ticket) -> bool:
    """The assignee; for an order with no assignee, an account manager of its unit."""
    if ticket.assignee_id:
        return ticket.assignee_id == user.pk
    return user.is_account_manager and user.org_unit_id == ticket.org_unit_id


def _is_tracker(user: User, ticket: Ticket) -> bool:
    return ticket.transfers.filter(tracker=user).exists()


def handled_or_resolved(user: User, ticket: Ticket) -> bool:
    """The order's assignee, or whoever resolved it in any round: not a fair judge of their own work.
    Reads the resolutions the order's page prefetched when it has them."""
    if ticket.assignee_id == user.pk:
        return True
    resolutions = getattr(ticket, "resolution_list", None)
    if resolutions is not None:
        return any(resolution.resolved_by_id == user.pk for resolution in resolutions)
    return ticket.resolutions.filter(resolved_by=user).exists()


def _may_visit(user: User, ticket: Ticket) -> bool:
    """回访 is made by a supervisor, the tracker of a transfer or a colleague of the
    order's unit, never by the person who handled or resolved it."""
    if handled_or_resolved(user, ticket):
        return False
    colleague = user.is_account_manager and user.org_unit_id == ticket.org_unit_id
    return colleague or _is_monitor(user, ticket) or _is_tracker(user, ticket)


def can(user: User, action: str, ticket: Ticket) -> bool:
    """Whether `user` may take step `action` on `ticket` now (role and status)."""
    if action in TRANSITIONS and ticket.status not in TRANSITIONS[action][0]:
        return False
    if action == Action.RETURN_VISIT:
        return _may_visit(user, ticket)
    if action == Action.PROMISE_KEPT:
        return _is_handler(user, ticket) or _is_monitor(user, ticket)
    if action in (Action.DISPATCHED, Action.REASSIGNED, Action.REOPENED):
        return _is_monitor(user, ticket)
    if action == Action.URGED:
        # The tracker named on a transfer follows the order up in the receiving unit.
        return _is_monitor(user, ticket) or _is_tracker(user, ticket)
    if action in (Action.SIGNED, Action.STARTED, Action.RETURNED, Action.RESOLVED):
        return _is_handler(user, ticket)
    if action in (Action.TRANSFERRED, Action.LINKED, Action.ATTACHED, Action.EDITED):
        return _is_handler(user, ticket) or _is_monitor(user, ticket)
    if action == Action.ARCHIVED:
        return _is_handler(user, ticket) or _is_monitor(user, ticket) or _is_tracker(user, ticket)
    return False


def can_bulk(user: User) -> bool:
    """批量催办/改派 from the order list: supervisors and administrators (each order is
    then checked by the single step's own rules)."""
    return user.is_supervisor or user.is_administrator


def allowed_actions(user: User, ticket: Ticket) -> list[str]:
    """The steps to offer on the order's page, in lifecycle order."""
    return [action for action in TRANSITIONS if can(user, action, ticket)]


def ticket_check(*, ticket: Ticket, by: User, action: str) -> None:
    """Raise TransitionError or PermissionDenied unless `by` may take `action` now.

    The same test every step makes before it writes, for callers that must
    answer before they read the step's input (a page refuses a form it would
    never accept). Steps outside the lifecycle (linking, attaching, editing)
    depend on the role only.
    """
    if action in TRANSITIONS:
        _check(by, action, ticket)
    elif not can(by, action, ticket):
        raise PermissionDenied(_("您无权对该工单执行“%(action)s”。") % {"action": Action(action).label})


def _check(user: User, action: str, ticket: Ticket) -> None:
    if ticket.status not in TRANSITIONS[action][0]:
        raise TransitionError(
            _("工单当前状态为“%(status)s”，不能执行“%(action)s”。")
            % {"status": ticket.get_status_display(), "action": Action(action).label}
        )
    if action == Action.RETURN_VISIT and handled_or_resolved(user, ticket):
        raise PermissionDenied(_("处理或办结该工单的人员不能为其回访，请由主管或其他人员回访。"))
    if not can(user, action, ticket):
        raise PermissionDenied(_("您无权对该工单执行“%(action)s”。") % {"action": Action(action).label})


def prefecture_of(unit: OrgUnit) -> OrgUnit | None:
    """The prefecture (地市供电局) the unit sits in, or is; None above that level."""
    if unit.level == OrgUnit.Level.PREFECTURE:
        return unit
    codes = unit.path.strip("/").split("/")
    ancestors = ["/" + "/".join(codes[:depth]) + "/" for depth in range(1, len(codes))]
    return OrgUnit.objects.filter(path__in=ancestors, level=OrgUnit.Level.PREFECTURE).first()


def transfer_units(unit: OrgUnit) -> QuerySet[OrgUnit]:
    """Where an order held by `unit` may be transferred (转办): with TICKET_TRANSFER_SCOPE
    "prefecture", the units of its prefecture; an order held at province level, or
    the "province" scope, anywhere. The form's choices, its people's list and the
    service all ask this; the prefecture is found inside the same query."""
    units = OrgUnit.objects.order_by("path")
    if settings.TICKET_TRANSFER_SCOPE != "prefecture":
        return units
    codes = unit.path.strip("/").split("/")
    lineage = ["/" + "/".join(codes[:depth]) + "/" for depth in range(1, len(codes) + 1)]
    prefecture_path = OrgUnit.objects.filter(path__in=lineage, level=OrgUnit.Level.PREFECTURE).values("path")[
        :1
    ]
    # Every path starts with "/": no prefecture above the unit means every unit.
    return units.filter(path__startswith=Coalesce(Subquery(prefecture_path), Value("/")))
