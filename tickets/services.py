"""Every rule of the work-order (工单) lifecycle.

Each step is one function here: it checks (tickets.permissions) that the user
may take it and that the order's status allows it, changes the order in one
transaction, writes a TicketEvent for the timeline and queues the notifications
it causes in the outbox (they leave after commit).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import units_for
from accounts.models import OrgUnit, User
from accounts.selectors import nearest_supervisors
from core.validation import check_field_names, refuse_non_text
from customers.models import Contact, Customer
from groups.models import GroupMessage
from groups.services.messages import message_link_ticket
from notifications.models import Notification
from notifications.services import notification_enqueue
from notifications.sms_kinds import SmsKind
from reach.services import reach_acceptance
from tickets import permissions, sla
from tickets.attachments import inspect_picture
from tickets.models import (
    FIVE_W_ONE_H,
    HISTORY_EXCLUDED_FIELDS,
    TICKET_EDITABLE_FIELDS,
    Attachment,
    Category,
    Kind,
    Resolution,
    ReturnVisit,
    Source,
    Status,
    Ticket,
    TicketEvent,
    TicketNumberCounter,
    Transfer,
)
from tickets.permissions import TRANSITIONS, TransitionError, can, prefecture_of, ticket_check, transfer_units
from tickets.survey import SurveyLinkInvalid, survey_url, survey_visit_id

Action = TicketEvent.Action


def _locked(ticket: Ticket) -> Ticket:
    """Re-read the order under a row lock so two steps never interleave."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("org_unit", "customer")
        .get(pk=ticket.pk)
    )


def _record(
    ticket: Ticket, action: str, by: User | None, from_status: str, note: str = "", **changes
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        action=action,
        actor=by,
        from_status=from_status,
        to_status=ticket.status,
        note=note,
        changes=changes,
    )


def _save(ticket: Ticket, fields: list[str], by: User | None = None) -> None:
    # Who the change history names (simple-history reads it on save).
    ticket._history_user = by
    ticket.version = F("version") + 1
    if set(fields) <= set(HISTORY_EXCLUDED_FIELDS):
        # Bookkeeping only (an urge's count): the timeline has the step, the history nothing to show.
        ticket.save_without_historical_record(update_fields=[*fields, "version", "updated_at"])
    else:
        ticket.save(update_fields=[*fields, "version", "updated_at"])
    ticket.refresh_from_db(fields=["version"])


def _step(
    *, ticket: Ticket, by: User, action: str, note: str = "", changes: dict | None = None, **fields
) -> Ticket:
    """Check, move the status, save the given fields, write the event (with `changes` to show)."""
    changes = changes or {}
    ticket = _locked(ticket)
    ticket_check(ticket=ticket, by=by, action=action)
    from_status = ticket.status
    to_status = TRANSITIONS[action][1]
    if to_status:
        ticket.status = to_status
    for name, value in fields.items():
        setattr(ticket, name, value)
    _save(ticket, ["status", *fields], by)
    _record(ticket, action, by, from_status, note, **changes)
    return ticket


# --- numbers and creation -----------------------------------------------------


def _next_number(day: date) -> str:
    """GD + date + a per-day sequence; the counter row is locked, so two
    concurrent creates never get the same number."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                counter, _created = TicketNumberCounter.objects.select_for_update().get_or_create(day=day)
                counter.last = F("last") + 1
                counter.save(update_fields=["last"])
                counter.refresh_from_db(fields=["last"])
                return f"GD{day:%Y%m%d}{counter.last:04d}"
        except IntegrityError:  # two first orders of the day raced to create the row
            continue
    raise RuntimeError("could not allocate a ticket number")


def _repeat_of(customer: Customer, kind: str, category: str, now) -> Ticket | None:
    """An earlier complaint of the same customer about the same matter within the window."""
    if kind != Kind.COMPLAINT:
        return None
    window = timedelta(days=settings.TICKET_REPEAT_WINDOW_DAYS)
    return (
        Ticket.objects.filter(customer=customer, kind=kind, category=category, created_at__gte=now - window)
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def ticket_create(
    *,
    customer: Customer,
    opened_by: User | None,
    kind: str,
    title: str,
    description: str,
    category: str = Category.OTHER,
    source: str = "phone",
    urgency: int = 0,
    external_id: str = "",
    contact: Contact | None = None,
    org_unit: OrgUnit | None = None,
    assignee: User | None = None,
    **five_w_one_h: str,
) -> tuple[Ticket, bool]:
    """Open an order. Returns (ticket, created).

    A re-sent order with the same source and external id returns the first
    one instead of a duplicate. The SLA policy is chosen now and the deadlines
    are fixed in columns. A complaint by the same customer about the same
    category within TICKET_REPEAT_WINDOW_DAYS is flagged as a repeat and
    linked to the earlier one. With an assignee or unit given, the order is
    dispatched at once.
    """
    check_field_names(five_w_one_h, FIVE_W_ONE_H)
    if external_id:
        existing = Ticket.objects.filter(source=source, external_id=external_id).first()
        if existing:
            return existing, False
    now = timezone.now()
    policy = sla.policy_for(
        kind=kind, category=category, urgency=urgency, sensitive=customer.needs_one_to_one
    )
    clock = sla.clock_for(policy, now)
    contact = contact or customer.contacts.order_by("-is_primary", "id").first()
    repeat_of = _repeat_of(customer, kind, category, now)
    unit = org_unit or (assignee.org_unit if assignee else customer.station)
    if assignee:
        _validate_assignment(unit, assignee)
    ticket = Ticket(
        number=_next_number(timezone.localdate(now)),
        source=source,
        external_id=external_id,
        kind=kind,
        category=category,
        urgency=urgency,
        customer=customer,
        contact_name=contact.name if contact else "",
        contact_phone=contact.phone if contact else "",
        title=title,
        description=description,
        org_unit=unit,
        opened_by=opened_by,
        policy=policy if policy.pk else None,
        sign_warn_at=clock.sign_warn_at,
        sign_due_at=clock.sign_due_at,
        resolve_warn_at=clock.resolve_warn_at,
        resolve_due_at=clock.resolve_due_at,
        # The sign clock's ladder first; the resolve deadline alerts on its own (tickets.sla).
        next_escalation_at=clock.sign_due_at,
        escalation_step=clock.escalation_step,
        is_repeat=repeat_of is not None,
        repeat_of=repeat_of,
        created_at=now,
        **five_w_one_h,
    )
    ticket._history_user = opened_by
    refuse_non_text(ticket)
    # The one constraint, (source, external_id), is the database's to enforce: checked here it
    # would refuse with the constraint's name a retry that raced the first order past the lookup.
    ticket.full_clean(exclude=["number", "related"], validate_constraints=False)
    try:
        with transaction.atomic():
            ticket.save()
    except IntegrityError:
        # A concurrent retry of the same external order won the race: answer with it.
        first = Ticket.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if first is None:
            raise
        return first, False
    _record(ticket, Action.CREATED, opened_by, "")
    if repeat_of:
        ticket.related.add(repeat_of)
    if assignee or org_unit:
        _dispatch(ticket, by=opened_by, org_unit=unit, assignee=assignee, note="")
    if kind in ACCEPTANCE_SMS_KINDS:
        _tell_accepted(ticket, contact)
    return ticket, True


# Complaints and repairs: the customer hears at once that the order is accepted (seed 001 §7(1)).
ACCEPTANCE_SMS_KINDS = {Kind.COMPLAINT: "complaint_accepted", Kind.REPAIR: "repair_accepted"}


def _tell_accepted(ticket: Ticket, contact: Contact | None) -> None:
    """The acceptance SMS, in the creating transaction, once per order (reach record included).
    It names the order and what happens next, never a staff member's number."""
    due = timezone.localtime(ticket.sign_due_at).strftime("%m-%d %H:%M")
    params = {"number": ticket.number, "kind": ticket.get_kind_display(), "due": due}
    reach_acceptance(
        customer=ticket.customer,
        contact=contact,
        notice_key=f"ticket:{ticket.pk}:accepted",
        topic_key=f"ticket:{ticket.pk}",
        label=_("工单受理通知"),
        subject=_("您的%(kind)s（工单%(number)s）已受理，我们将于%(due)s前安排专人联系您处理。") % params,
        sms_kind=ACCEPTANCE_SMS_KINDS[ticket.kind],
        sms_params=params,
    )


def _dispatch(
    ticket: Ticket, *, by: User | None, org_unit: OrgUnit, assignee: User | None, note: str
) -> None:
    from_status = ticket.status
    ticket.status = Status.DISPATCHED
    ticket.org_unit = org_unit
    ticket.assignee = assignee
    _save(ticket, ["status", "org_unit", "assignee"], by)
    _record(ticket, Action.DISPATCHED, by, from_status, note, assignee=assignee.real_name if assignee else "")
    if assignee and assignee != by:
        _notify_user(
            ticket,
            assignee,
            f"dispatched:{ticket.sla_round}:{assignee.pk}",
            _("新工单待签收：%(number)s") % {"number": ticket.number},
            ticket.title,
        )


def _validate_assignment(org_unit: OrgUnit, assignee: User | None) -> None:
    if assignee and assignee.org_unit_id != org_unit.pk:
        raise ValidationError({"assignee": _("处理人必须属于责任单位。")})


@transaction.atomic
def ticket_dispatch(
    *, ticket: Ticket, by: User, org_unit: OrgUnit, assignee: User | None = None, note: str = ""
) -> Ticket:
    """派单: the monitoring group sends the order to a unit and (optionally) a manager."""
    ticket = _locked(ticket)
    ticket_check(ticket=ticket, by=by, action=Action.DISPATCHED)
    _validate_assignment(org_unit, assignee)
    _dispatch(ticket, by=by, org_unit=org_unit, assignee=assignee, note=note)
    return ticket


@transaction.atomic
def ticket_reassign(
    *, ticket: Ticket, by: User, org_unit: OrgUnit, assignee: User | None = None, reason: str
) -> Ticket:
    """改派: a supervisor moves a dispatched or signed order to another unit or person of
    their subtree (e.g. an unsigned order whose assignee is away).

    The order keeps its status, deadlines and SLA round: reassigning must not
    buy a late order more time. The new assignee and the one relieved are told.
    """
    errors = {}
    if not reason.strip():
        errors["reason"] = _("请填写改派原因。")
    if not units_for(by).filter(pk=org_unit.pk).exists():
        errors["org_unit"] = _("所选单位不在您的管辖范围内。")
    elif assignee is not None and (assignee.org_unit_id != org_unit.pk or not assignee.is_active):
        errors["assignee"] = _("处理人必须属于所选责任单位。")
    if errors:
        raise ValidationError(errors)
    ticket = _locked(ticket)
    ticket_check(ticket=ticket, by=by, action=Action.REASSIGNED)
    if org_unit.pk == ticket.org_unit_id and (assignee.pk if assignee else None) == ticket.assignee_id:
        raise ValidationError({"assignee": _("改派后的责任单位和处理人与当前相同。")})
    previous = ticket.assignee
    from_unit = ticket.org_unit
    ticket.org_unit = org_unit
    ticket.assignee = assignee
    _save(ticket, ["org_unit", "assignee"], by)
    event = _record(
        ticket,
        Action.REASSIGNED,
        by,
        ticket.status,
        reason,
        org_unit=f"{from_unit.name} → {org_unit.name}",
        assignee=f"{previous.real_name if previous else '—'} → {assignee.real_name if assignee else '—'}",
    )
    if assignee and assignee != by:
        _notify_user(
            ticket,
            assignee,
            f"reassigned:{event.pk}:{assignee.pk}",
            _("改派工单待处理：%(number)s") % {"number": ticket.number},
            reason,
        )
    if previous and previous != assignee and previous != by:
        _notify_user(
            ticket,
            previous,
            f"reassigned-away:{event.pk}:{previous.pk}",
            _("工单已改派他人：%(number)s") % {"number": ticket.number},
            reason,
        )
    return ticket


@transaction.atomic
def ticket_sign(*, ticket: Ticket, by: User) -> Ticket:
    """签收: the assignee accepts the order; the customer is told it is being handled."""
    ticket = _step(ticket=ticket, by=by, action=Action.SIGNED, signed_at=timezone.now(), assignee=by)
    if not ticket.resolve_overdue_alerted and ticket.next_escalation_at is not None:
        # The sign clock stops: the resolve deadline is the next alert (tickets.sla).
        ticket.next_escalation_at = None
        ticket.save_without_historical_record(update_fields=["next_escalation_at"])
    if ticket.kind in ACCEPTANCE_SMS_KINDS:
        # Told at creation already (tickets.services._tell_accepted).
        return ticket
    _notify_customer(
        ticket,
        f"signed:{ticket.sla_round}",
        _("您的诉求（工单%(number)s）已由%(name)s受理处理，联系电话%(phone)s。")
        % {"number": ticket.number, "name": by.real_name, "phone": by.mobile or "95598"},
    )
    return ticket


@transaction.atomic
def ticket_start(*, ticket: Ticket, by: User) -> Ticket:
    return _step(ticket=ticket, by=by, action=Action.STARTED)


@transaction.atomic
def ticket_send_back(*, ticket: Ticket, by: User, reason: str) -> Ticket:
    """退回: the assignee sends the order back to the dispatcher (e.g. wrong region)."""
    if not reason.strip():
        raise ValidationError({"reason": _("请填写退回原因。")})
    return _step(ticket=ticket, by=by, action=Action.RETURNED, note=reason, assignee=None)


def _check_transfer_reach(from_unit: OrgUnit, to_unit: OrgUnit) -> None:
    if not transfer_units(from_unit).filter(pk=to_unit.pk).exists():
        prefecture = prefecture_of(from_unit)
        raise ValidationError(
            {"to_unit": _("只能转办给%(prefecture)s范围内的单位。") % {"prefecture": prefecture.name}}
        )


@transaction.atomic
def ticket_transfer(
    *, ticket: Ticket, by: User, to_unit: OrgUnit, reason: str, tracker: User, to_user: User | None = None
) -> Transfer:
    """转办: hand the order to another department, recorded with a named tracker.

    The receiving side must sign again, so the signing clock restarts; the
    customer's resolve deadline keeps running.
    """
    if not reason.strip():
        raise ValidationError({"reason": _("请填写转办原因。")})
    _validate_assignment(to_unit, to_user)
    locked = _locked(ticket)
    ticket_check(ticket=locked, by=by, action=Action.TRANSFERRED)
    _check_transfer_reach(locked.org_unit, to_unit)
    transfer = Transfer.objects.create(
        ticket=locked,
        from_unit=locked.org_unit,
        from_user=locked.assignee,
        to_unit=to_unit,
        to_user=to_user,
        reason=reason,
        tracker=tracker,
        created_by=by,
    )
    policy = locked.policy or sla.FALLBACK
    locked.sign_warn_at, locked.sign_due_at = sla.sign_deadlines(policy, timezone.now())
    from_status = locked.status
    locked.status = Status.DISPATCHED
    locked.org_unit = to_unit
    locked.assignee = to_user
    locked.signed_at = None
    locked.sla_round += 1
    locked.sign_reminded = False
    if not locked.resolve_overdue_alerted:
        # The receiving side's sign clock runs until the resolve deadline takes over.
        locked.next_escalation_at = locked.sign_due_at
    _save(
        locked,
        [
            "status",
            "org_unit",
            "assignee",
            "signed_at",
            "sign_warn_at",
            "sign_due_at",
            "sla_round",
            "sign_reminded",
            "next_escalation_at",
        ],
        by,
    )
    _record(
        locked, Action.TRANSFERRED, by, from_status, reason, to_unit=to_unit.name, tracker=tracker.real_name
    )
    if to_user:
        _notify_user(
            locked,
            to_user,
            f"transferred:{transfer.pk}",
            _("转办工单待签收：%(number)s") % {"number": locked.number},
            reason,
        )
    return transfer


@transaction.atomic
def ticket_urge(*, ticket: Ticket, by: User, note: str = "") -> Ticket:
    """催办: a supervisor, or the tracker of a transfer, pushes an open order; counted,
    and the assignee is told."""
    ticket = _locked(ticket)
    ticket_check(ticket=ticket, by=by, action=Action.URGED)
    ticket.urge_count = F("urge_count") + 1
    _save(ticket, ["urge_count"], by)
    ticket.refresh_from_db(fields=["urge_count"])
    _record(ticket, Action.URGED, by, ticket.status, note)
    if ticket.assignee_id:
        _notify_user(
            ticket,
            ticket.assignee,
            f"urge:{ticket.urge_count}",
            _("工单催办：%(number)s（第%(count)s次）")
            % {"number": ticket.number, "count": ticket.urge_count},
            note or ticket.title,
        )
    return ticket


@transaction.atomic
def ticket_resolve(
    *,
    ticket: Ticket,
    by: User,
    resolution: str,
    resolution_kind: str = Ticket.ResolutionKind.DIRECT,
    commitment: str = "",
    commitment_due: date | None = None,
) -> Ticket:
    """办结: record how it was solved; schedule the return visit; tell the customer.

    What is written must match reality (seed 001 §7(3)): a resolution text is
    required, and a service commitment needs the date it promises. Each
    办结 is its own Resolution record, kept when the order is reopened and
    resolved again; the timeline's event carries its text and promise.
    """
    errors = {}
    if not resolution.strip():
        errors["resolution"] = _("请填写处理结果。")
    if commitment.strip() and not commitment_due:
        errors["commitment_due"] = _("有服务承诺时请填写承诺完成日期。")
    if resolution_kind not in Ticket.ResolutionKind.values:
        errors["resolution_kind"] = _("请选择解决方式。")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    kind_label = str(Ticket.ResolutionKind(resolution_kind).label)
    promised = (
        {"commitment": commitment, "commitment_due": f"{commitment_due:%Y-%m-%d}"} if commitment else {}
    )
    ticket = _step(
        ticket=ticket,
        by=by,
        action=Action.RESOLVED,
        note=resolution,
        changes={"resolution_kind": kind_label, **promised},
        resolution=resolution,
        resolution_kind=resolution_kind,
        commitment=commitment,
        commitment_due=commitment_due,
        resolved_at=now,
    )
    # This 办结 replaces the earlier ones' promises (kept or not): one open promise per order.
    Resolution.objects.filter(ticket=ticket, is_current=True).update(is_current=False)
    Resolution.objects.create(
        ticket=ticket,
        kind=resolution_kind,
        text=resolution,
        commitment=commitment,
        commitment_due=commitment_due,
        resolved_by=by,
        resolved_at=now,
        sla_round=ticket.sla_round,
    )
    hours = (ticket.policy or sla.FALLBACK).return_visit_hours
    visit = ReturnVisit.objects.create(ticket=ticket, due_at=now + timedelta(hours=hours))
    _notify_customer(
        ticket,
        f"resolved:{ticket.sla_round}",
        _("您的诉求（工单%(number)s）已处理完毕，我们将进行回访，感谢您的理解与支持。")
        % {"number": ticket.number},
    )
    _send_survey(ticket, visit)
    return ticket


def _send_survey(ticket: Ticket, visit: ReturnVisit) -> None:
    """The customer's own rating: an SMS with the signed link to the contact's mobile,
    once per return visit; held through the quiet hours (it is never urgent)."""
    contacts = ticket.customer.contacts.exclude(mobile="").order_by("-is_primary", "id")
    contact = contacts.only("name", "mobile").first()
    if contact is None:
        return
    link = survey_url(visit.pk)
    notification_enqueue(
        dedupe_key=f"ticket:{ticket.pk}:customer:survey:{visit.pk}",
        subject=_("服务满意度评价"),
        body=_("您的诉求（工单%(number)s）已办结，请对本次服务进行评价：%(link)s")
        % {"number": ticket.number, "link": link},
        channel=Notification.Channel.SMS,
        address=contact.mobile,
        recipient_label=contact.name,
        template_kind=SmsKind.SATISFACTION_SURVEY,
        template_params={"number": ticket.number, "link": link},
        quiet=True,
    )


@transaction.atomic
def ticket_keep_promise(*, ticket: Ticket, by: User, note: str = "") -> Resolution:
    """承诺已兑现: the handler or a supervisor marks the open service commitment kept.

    Only the latest resolution's promise can be open; a kept promise leaves the
    workbench, the dashboard and the promise scan (no reminder, no alert)."""
    ticket = _locked(ticket)
    ticket_check(ticket=ticket, by=by, action=Action.PROMISE_KEPT)
    promise = (
        Resolution.objects.open_promises().select_for_update().filter(ticket=ticket).order_by("-id").first()
    )
    if promise is None:
        raise TransitionError(_("该工单没有待兑现的服务承诺。"))
    promise.kept_at, promise.kept_by = timezone.now(), by
    promise.save(update_fields=["kept_at", "kept_by"])
    _save(ticket, [], by)
    _record(
        ticket,
        Action.PROMISE_KEPT,
        by,
        ticket.status,
        note,
        commitment=promise.commitment,
        commitment_due=f"{promise.commitment_due:%Y-%m-%d}",
    )
    return promise


# The ways staff make a return visit; 自助评价 is the customer's own (ticket_rate_by_customer).
STAFF_VISIT_METHODS = tuple(m for m in ReturnVisit.Method.values if m != ReturnVisit.Method.SELF_SERVICE)


@transaction.atomic
def ticket_record_return_visit(
    *, ticket: Ticket, by: User, method: str, result: str, note: str = ""
) -> ReturnVisit:
    """回访: record the customer's satisfaction. Not by the person who handled or
    resolved the order (tickets.permissions). 不满意 reopens the order with a
    fresh resolve clock and tells the supervisors of its unit."""
    errors = {}
    if result not in ReturnVisit.Result.values:
        errors["result"] = _("请选择回访结果。")
    if method not in STAFF_VISIT_METHODS:
        errors["method"] = _("请选择回访方式。")
    if errors:
        raise ValidationError(errors)
    locked = _locked(ticket)
    ticket_check(ticket=locked, by=by, action=Action.RETURN_VISIT)
    visit = locked.return_visits.filter(visited_at__isnull=True).order_by("due_at").first() or ReturnVisit(
        ticket=locked, due_at=timezone.now()
    )
    return _visit(locked, visit, by=by, method=method, result=result, note=note)


def _visit(ticket: Ticket, visit: ReturnVisit, *, by: User | None, method: str, result: str, note: str):
    visit.method, visit.result, visit.note = method, result, note
    visit.visited_by, visit.visited_at = by, timezone.now()
    visit.save()
    from_status = ticket.status
    ticket.status = Status.VISITED
    _save(ticket, ["status"], by)
    _record(
        ticket,
        Action.RETURN_VISIT,
        by,
        from_status,
        note,
        result=str(visit.get_result_display()),
        method=str(visit.get_method_display()),
    )
    if result == ReturnVisit.Result.DISSATISFIED:
        _reopen(ticket, by=by, note=note or _("回访不满意"))
        for supervisor in nearest_supervisors(ticket.org_unit):
            _notify_user(
                ticket,
                supervisor,
                f"dissatisfied:{visit.pk}:{supervisor.pk}",
                _("回访不满意，工单已重新处理：%(number)s") % {"number": ticket.number},
                note,
            )
    return visit


class SurveyClosed(ValidationError):
    """The link was good but can no longer be answered (already answered, or the order moved on)."""


def survey_visit(*, token: str) -> ReturnVisit:
    """The return visit a survey link names, with its order; SurveyLinkInvalid when the
    link is forged, unknown or expired, SurveyClosed when it was already used."""
    visit = ReturnVisit.objects.select_related("ticket").filter(pk=survey_visit_id(token)).first()
    if visit is None:
        raise SurveyLinkInvalid()
    if visit.visited_at is not None or visit.ticket.status != Status.RESOLVED:
        raise SurveyClosed(_("该评价链接已使用或已失效，感谢您的参与。"))
    return visit


@transaction.atomic
def ticket_rate_by_customer(*, token: str, result: str, comment: str = "") -> ReturnVisit:
    """自助评价: the customer answers the survey link; the answer is the order's return
    visit with method 自助评价 and no staff member. Single use: the visit row is
    locked, so two answers sent at once record one. 不满意 reopens the order as a
    staff visit does."""
    if result not in ReturnVisit.Result.values:
        raise ValidationError({"result": _("请选择满意程度。")})
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise ValidationError({"comment": _("评价内容不能超过500字。")})
    visit = survey_visit(token=token)
    ticket = _locked(visit.ticket)
    visit = ReturnVisit.objects.select_for_update().get(pk=visit.pk)
    if visit.visited_at is not None or ticket.status != Status.RESOLVED:
        raise SurveyClosed(_("该评价链接已使用或已失效，感谢您的参与。"))
    return _visit(ticket, visit, by=None, method=ReturnVisit.Method.SELF_SERVICE, result=result, note=comment)


def _reopen(ticket: Ticket, *, by: User | None, note: str) -> None:
    policy = ticket.policy or sla.FALLBACK
    from_status = ticket.status
    ticket.status = Status.IN_PROGRESS
    ticket.resolved_at = None
    ticket.resolve_warn_at, ticket.resolve_due_at = sla.resolve_deadlines(policy, timezone.now())
    # A signed order: its next alert is the new resolve deadline passing.
    ticket.next_escalation_at = None
    ticket.escalation_level = 0
    ticket.sla_round += 1
    ticket.resolve_warned = False
    ticket.resolve_overdue_alerted = False
    _save(
        ticket,
        [
            "status",
            "resolved_at",
            "resolve_warn_at",
            "resolve_due_at",
            "next_escalation_at",
            "escalation_level",
            "sla_round",
            "resolve_warned",
            "resolve_overdue_alerted",
        ],
        by,
    )
    _record(ticket, Action.REOPENED, by, from_status, note)


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, by: User, note: str) -> Ticket:
    """A supervisor reopens a resolved or visited order (e.g. the fault came back)."""
    locked = _locked(ticket)
    ticket_check(ticket=locked, by=by, action=Action.REOPENED)
    _reopen(locked, by=by, note=note)
    return locked


@transaction.atomic
def ticket_archive(*, ticket: Ticket, by: User) -> Ticket:
    return _step(ticket=ticket, by=by, action=Action.ARCHIVED, archived_at=timezone.now())


@transaction.atomic
def ticket_link(*, ticket: Ticket, other: Ticket, by: User, note: str = "") -> None:
    """关联工单: link two orders so whoever picks up one sees the other."""
    if other.pk == ticket.pk:
        raise ValidationError({"other": _("不能关联工单本身。")})
    if not can(by, Action.LINKED, ticket):
        raise PermissionDenied(_("您无权关联该工单。"))
    ticket.related.add(other)
    _record(ticket, Action.LINKED, by, ticket.status, note, other=other.number)
    _record(other, Action.LINKED, by, other.status, note, other=ticket.number)


@transaction.atomic
def ticket_update(*, ticket: Ticket, by: User, **fields: str) -> Ticket:
    """修改: the handler or a supervisor corrects the order's text (title, description,
    contact, 5W1H). An archived order is fixed. The timeline keeps each changed
    field as "old → new"; a change that changes nothing writes nothing."""
    check_field_names(fields, TICKET_EDITABLE_FIELDS)
    ticket = _locked(ticket)
    if ticket.status == Status.ARCHIVED:
        raise TransitionError(
            _("工单当前状态为“%(status)s”，不能执行“%(action)s”。")
            % {"status": ticket.get_status_display(), "action": Action.EDITED.label}
        )
    if not can(by, Action.EDITED, ticket):
        raise PermissionDenied(_("您无权对该工单执行“%(action)s”。") % {"action": Action.EDITED.label})
    changes = {}
    for name, value in fields.items():
        value = value.strip()
        old = getattr(ticket, name)
        if value != old:
            changes[name] = f"{old} → {value}"
            setattr(ticket, name, value)
    if not changes:
        return ticket
    errors = {}
    if "title" in changes and not ticket.title:
        errors["title"] = _("请填写标题。")
    if "description" in changes and not ticket.description:
        errors["description"] = _("请填写诉求内容。")
    if errors:
        raise ValidationError(errors)
    others = [field.name for field in Ticket._meta.get_fields() if field.name not in changes]
    ticket.full_clean(exclude=others, validate_unique=False, validate_constraints=False)
    _save(ticket, list(changes), by)
    _record(ticket, Action.EDITED, by, ticket.status, **changes)
    return ticket


# --- Bulk steps from the order list ------------------------------------------------

BULK_LIMIT = 200


@dataclass
class BulkResult:
    """What a bulk step did: the orders done, the visible ones refused (number, reason),
    and how many ids were out of the user's scope (never named)."""

    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    out_of_scope: int = 0


def _bulk(*, by: User, ids: list[int], step) -> BulkResult:
    """Run `step(ticket)` on each visible order of `ids`, each in its own transaction,
    with the same checks as the single action: one order refused never undoes another."""
    if not permissions.can_bulk(by):
        raise PermissionDenied(_("只有监控主管可以批量处理工单。"))
    wanted = set(ids)
    if not wanted:
        raise ValidationError({"ids": _("请先勾选工单。")})
    if len(wanted) > BULK_LIMIT:
        raise ValidationError({"ids": _("一次最多处理%(limit)s张工单。") % {"limit": BULK_LIMIT}})
    visible = list(
        Ticket.objects.visible_to(by)
        .filter(pk__in=wanted)
        .select_related("org_unit", "customer")
        .order_by("id")
    )
    result = BulkResult(out_of_scope=len(wanted) - len(visible))
    for ticket in visible:
        try:
            step(ticket)
        except (ValidationError, PermissionDenied) as exc:
            reason = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            result.refused.append((ticket.number, reason))
        else:
            result.done.append(ticket.number)
    return result


def tickets_bulk_urge(*, by: User, ids: list[int], note: str) -> BulkResult:
    """批量催办: one reason for every selected order; each checked as ticket_urge checks one."""
    if not note.strip():
        raise ValidationError({"reason": _("请填写催办说明。")})
    return _bulk(by=by, ids=ids, step=lambda ticket: ticket_urge(ticket=ticket, by=by, note=note))


def tickets_bulk_reassign(
    *, by: User, ids: list[int], org_unit: OrgUnit, assignee: User | None, reason: str
) -> BulkResult:
    """批量改派: the selected orders to one unit (and person), with one reason; each
    checked as ticket_reassign checks one (status, scope, not the same holder)."""
    if not reason.strip():
        raise ValidationError({"reason": _("请填写改派原因。")})
    return _bulk(
        by=by,
        ids=ids,
        step=lambda ticket: ticket_reassign(
            ticket=ticket, by=by, org_unit=org_unit, assignee=assignee, reason=reason
        ),
    )


# --- notifications --------------------------------------------------------------


def _notify_user(ticket: Ticket, user: User, key: str, subject: str, body: str) -> None:
    notification_enqueue(
        dedupe_key=f"ticket:{ticket.pk}:{key}",
        subject=subject,
        body=body,
        recipient=user,
        channel=Notification.Channel.IN_APP,
        link=f"/tickets/{ticket.number}/",
        reminder=True,
    )


def _notify_customer(ticket: Ticket, key: str, text: str) -> None:
    """Tell the customer through their preferred channel (seed 001 §7(1)):
    e-mail when they prefer it and have an address, otherwise SMS to a mobile."""
    contact = ticket.customer.contacts.order_by("-is_primary", "id").first()
    if contact is None:
        return
    if contact.preferred_channel == Contact.Channel.EMAIL and contact.email:
        channel, address = Notification.Channel.EMAIL, contact.email
    elif contact.mobile:
        channel, address = Notification.Channel.SMS, contact.mobile
    else:
        return
    notification_enqueue(
        dedupe_key=f"ticket:{ticket.pk}:customer:{key}",
        subject=_("工单进度通知"),
        body=text,
        channel=channel,
        address=address,
        recipient_label=contact.name,
    )


@transaction.atomic
def attachment_add(*, ticket: Ticket, by: User, upload: UploadedFile) -> Attachment:
    """Attach a picture (JPG/JPEG/PNG, at most 5 MB, checked by content)."""
    if not can(by, Action.ATTACHED, ticket):
        raise PermissionDenied(_("您无权为该工单上传附件。"))
    content_type = inspect_picture(upload)
    attachment = Attachment(
        ticket=ticket,
        original_name=upload.name[:255],
        content_type=content_type,
        size=upload.size,
        uploaded_by=by,
    )
    attachment.file.save(upload.name, upload, save=False)
    attachment.save()
    _record(ticket, Action.ATTACHED, by, ticket.status, upload.name)
    return attachment


# --- Work orders from group messages ------------------------------------------------


@transaction.atomic
def ticket_create_from_group_message(
    *, message: GroupMessage, by: User, kind: str, category: str, title: str | None = None
) -> tuple[Ticket, bool]:
    """Turn a customer's message in a service group into a work order (seed 000 §02 四:
    a complaint in a group gets immediate care and moves to one-to-one handling).

    Only a customer's message can be turned, and only once: the order's
    source is 微信群 with external id `group-message:<id>`, so a second
    request returns the first order (created False). The order quotes the
    message (group, time, sender, text), goes to the customer's contact who
    wrote it, and is dispatched to `by` when they are an account manager
    (they took the matter up), otherwise left for dispatch at the
    customer's station. The message remembers the order's number.
    """
    errors = {}
    if kind not in Kind.values:
        errors["kind"] = _("请选择工单类型。")
    if category not in Category.values:
        errors["category"] = _("请选择业务分类。")
    if not message.is_from_customer or message.customer_id is None:
        errors["__all__"] = _("只有客户发送的消息可以转为工单。")
    title = (title or "").strip()
    if errors:
        raise ValidationError(errors)
    customer = Customer.objects.filter(pk=message.customer_id).first()
    if customer is None:
        raise ValidationError(_("该客户档案已删除，不能转为工单。"))
    group = message.group
    sent = timezone.localtime(message.sent_at)
    quote = _("【客户群“%(group)s” %(time)s %(sender)s】") % {
        "group": group.name,
        "time": f"{sent:%Y-%m-%d %H:%M}",
        "sender": message.sender_name,
    }
    assignee = by if by.is_account_manager and by.org_unit_id else None
    ticket, created = ticket_create(
        customer=customer,
        opened_by=by,
        kind=kind,
        category=category,
        title=(title or _("群消息：%(text)s") % {"text": message.text[:40]})[:200],
        description=f"{quote}\n{message.text}",
        source=Source.WECHAT_GROUP,
        external_id=f"group-message:{message.pk}",
        contact=message.sender_contact,
        assignee=assignee,
    )
    message_link_ticket(message=message, ticket_number=ticket.number)
    return ticket, created
