import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from notifications.models import Notification
from tickets import permissions, services
from tickets.models import Kind, ReturnVisit, Status, Ticket, TicketEvent, Transfer
from tickets.permissions import TransitionError

Action = TicketEvent.Action


def actions(ticket) -> list[str]:
    return list(ticket.events.order_by("id").values_list("action", flat=True))


def test_a_new_order_gets_a_daily_number_and_deadlines(open_ticket, manager):
    first = open_ticket()
    second = open_ticket()
    today = timezone.localdate().strftime("%Y%m%d")
    assert first.number == f"GD{today}0001"
    assert second.number == f"GD{today}0002"
    # The repair policy: sign for within 10 minutes, resolve within 4 hours.
    assert (first.sign_due_at - first.created_at).total_seconds() == 10 * 60
    assert (first.resolve_due_at - first.created_at).total_seconds() == 240 * 60
    assert first.status == Status.DISPATCHED
    assert actions(first) == [Action.CREATED, Action.DISPATCHED]


def test_the_full_lifecycle_writes_the_timeline(open_ticket, manager, supervisor):
    ticket = open_ticket()
    ticket = services.ticket_sign(ticket=ticket, by=manager)
    ticket = services.ticket_start(ticket=ticket, by=manager)
    ticket = services.ticket_resolve(ticket=ticket, by=manager, resolution="更换进户线熔丝，已复电。")
    assert ticket.status == Status.RESOLVED
    assert ticket.return_visits.get().due_at > timezone.now()
    services.ticket_record_return_visit(ticket=ticket, by=supervisor, method="phone", result="satisfied")
    ticket = services.ticket_archive(ticket=ticket, by=supervisor)
    assert ticket.status == Status.ARCHIVED
    assert actions(ticket) == [
        Action.CREATED,
        Action.DISPATCHED,
        Action.SIGNED,
        Action.STARTED,
        Action.RESOLVED,
        Action.RETURN_VISIT,
        Action.ARCHIVED,
    ]
    signed = ticket.events.get(action=Action.SIGNED)
    assert (signed.from_status, signed.to_status, signed.actor) == (Status.DISPATCHED, Status.SIGNED, manager)


def test_a_repair_is_told_at_acceptance_and_resolution_once_each(open_ticket, manager):
    ticket = open_ticket()
    sms = Notification.objects.filter(channel=Notification.Channel.SMS, address="13885550001")
    assert list(sms.values_list("dedupe_key", flat=True)) == [
        f"ticket:{ticket.pk}:accepted:customer:{ticket.customer_id}"
    ]
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    # Acceptance and resolution notices, and the satisfaction survey link (test_survey.py).
    assert sms.exclude(template_kind="satisfaction_survey").count() == 2
    assert sms.filter(template_kind="satisfaction_survey").count() == 1
    assert not sms.filter(dedupe_key__contains="signed").exists()


@pytest.mark.parametrize(
    "step",
    [
        lambda t, u: services.ticket_resolve(ticket=t, by=u, resolution="x"),
        lambda t, u: services.ticket_archive(ticket=t, by=u),
        lambda t, u: services.ticket_start(ticket=t, by=u),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(open_ticket, manager, step):
    ticket = open_ticket()
    with pytest.raises(TransitionError):
        step(ticket, manager)
    ticket.refresh_from_db()
    assert ticket.status == Status.DISPATCHED
    assert actions(ticket) == [Action.CREATED, Action.DISPATCHED]


def test_an_account_manager_cannot_urge(open_ticket, manager):
    ticket = open_ticket()
    with pytest.raises(PermissionDenied):
        services.ticket_urge(ticket=ticket, by=manager)
    ticket.refresh_from_db()
    assert ticket.urge_count == 0


def test_a_supervisor_urges_and_the_assignee_is_told(open_ticket, manager, supervisor):
    ticket = open_ticket()
    services.ticket_urge(ticket=ticket, by=supervisor, note="客户再次来电")
    services.ticket_urge(ticket=ticket, by=supervisor)
    ticket.refresh_from_db()
    assert ticket.urge_count == 2
    assert Notification.objects.filter(recipient=manager, subject__contains="催办").count() == 2


def test_a_colleague_cannot_sign_for_someone_elses_order(open_ticket, colleague):
    ticket = open_ticket()
    with pytest.raises(PermissionDenied):
        services.ticket_sign(ticket=ticket, by=colleague)


def test_the_outsiders_supervisor_cannot_urge(open_ticket, org_tree):
    from accounts.models import User
    from tests.factories import UserFactory

    other_supervisor = UserFactory(org_unit=org_tree["other_county"], role=User.Role.SUPERVISOR)
    with pytest.raises(PermissionDenied):
        services.ticket_urge(ticket=open_ticket(), by=other_supervisor)


def test_a_transfer_records_the_tracker_and_restarts_signing(open_ticket, manager, colleague, org_tree):
    from tests.factories import UserFactory

    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    receiver = UserFactory(org_unit=org_tree["sibling_station"])
    transfer = services.ticket_transfer(
        ticket=ticket,
        by=manager,
        to_unit=org_tree["sibling_station"],
        to_user=receiver,
        reason="属丹江供电所辖区",
        tracker=colleague,
    )
    ticket.refresh_from_db()
    assert isinstance(transfer, Transfer) and transfer.tracker == colleague
    assert (ticket.status, ticket.org_unit, ticket.assignee) == (
        Status.DISPATCHED,
        org_tree["sibling_station"],
        receiver,
    )
    assert ticket.sla_round == 2 and ticket.signed_at is None
    assert Notification.objects.filter(recipient=receiver, subject__contains="转办").exists()
    # The tracker keeps watching: they may record the return visit later.
    services.ticket_sign(ticket=ticket, by=receiver)
    services.ticket_resolve(ticket=ticket, by=receiver, resolution="已处理")
    services.ticket_record_return_visit(ticket=ticket, by=colleague, method="phone", result="basically")
    ticket.refresh_from_db()
    assert ticket.status == Status.VISITED


def test_a_transfer_needs_a_reason(open_ticket, manager, colleague, org_tree):
    ticket = open_ticket()
    with pytest.raises(ValidationError):
        services.ticket_transfer(
            ticket=ticket, by=manager, to_unit=org_tree["sibling_station"], reason=" ", tracker=colleague
        )
    assert not Transfer.objects.exists()


def test_a_dissatisfied_return_visit_reopens_and_tells_the_supervisor(open_ticket, manager, supervisor):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    old_due = Ticket.objects.get(pk=ticket.pk).resolve_due_at
    visit = services.ticket_record_return_visit(
        ticket=ticket,
        by=supervisor,
        method="phone",
        result=ReturnVisit.Result.DISSATISFIED,
        note="仍然电压低",
    )
    ticket.refresh_from_db()
    assert visit.result == ReturnVisit.Result.DISSATISFIED
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.resolve_due_at > old_due and ticket.sla_round == 2
    assert Action.REOPENED in actions(ticket)
    assert Notification.objects.filter(recipient=supervisor, subject__contains="不满意").count() == 1


def test_a_resolution_must_say_what_was_done(open_ticket, manager):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    with pytest.raises(ValidationError) as err:
        services.ticket_resolve(ticket=ticket, by=manager, resolution="", commitment="下周更换电表")
    assert set(err.value.message_dict) == {"resolution", "commitment_due"}
    ticket.refresh_from_db()
    assert ticket.status == Status.SIGNED


def test_a_resent_external_order_is_not_duplicated(open_ticket):
    first = open_ticket(source="95598", external_id="95598-20261122-0042")
    second = open_ticket(source="95598", external_id="95598-20261122-0042")
    assert first.pk == second.pk
    assert Ticket.objects.count() == 1


def test_a_repeat_complaint_is_flagged_and_linked(open_ticket, customer):
    import time_machine

    with time_machine.travel(timezone.now() - timezone.timedelta(days=40)):
        old = open_ticket(kind=Kind.COMPLAINT, category="billing")
    first = open_ticket(kind=Kind.COMPLAINT, category="billing")
    assert not first.is_repeat  # the earlier one is outside the 30-day window
    again = open_ticket(kind=Kind.COMPLAINT, category="billing")
    other_matter = open_ticket(kind=Kind.COMPLAINT, category="attitude")
    assert again.is_repeat and again.repeat_of == first
    assert first in again.related.all()
    assert not other_matter.is_repeat
    assert not old.is_repeat


def test_orders_can_be_linked_by_hand(open_ticket, manager):
    a, b = open_ticket(), open_ticket()
    services.ticket_link(ticket=a, other=b, by=manager)
    assert list(b.related.all()) == [a]
    with pytest.raises(ValidationError):
        services.ticket_link(ticket=a, other=a, by=manager)


def test_allowed_actions_follow_role_and_status(open_ticket, manager, supervisor):
    ticket = open_ticket()
    assert permissions.allowed_actions(manager, ticket) == [
        Action.SIGNED,
        Action.RETURNED,
        Action.TRANSFERRED,
    ]
    assert Action.URGED in permissions.allowed_actions(supervisor, ticket)
    assert Action.SIGNED not in permissions.allowed_actions(supervisor, ticket)
