from io import StringIO

from django.core.management import call_command

from groups.models import GroupMessage, ServiceGroup
from tickets.models import Status, Ticket, TicketEvent


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_activity", stdout=out, **options)
    return out.getvalue()


def test_it_adds_orders_in_every_state_and_groups_with_waiting_questions(db):
    call_command("seed_demo", customers=300, seed=7, stdout=StringIO())
    # Enough orders for every state with this seed; each one costs a full timeline.
    seed(orders=30, seed=7)
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert {Status.DISPATCHED, Status.SIGNED, Status.RESOLVED, Status.VISITED} <= statuses
    # The orders asked for, and the one with a commitment due today (crm.demo).
    assert Ticket.objects.count() == 31
    # Made through the services: every order has its timeline.
    assert TicketEvent.objects.filter(action="created").count() == 31
    assert Ticket.objects.open().exists()
    assert ServiceGroup.objects.exists()
    inquiries = GroupMessage.objects.filter(is_inquiry=True)
    assert inquiries.filter(answered_at__isnull=True).exists()
    assert inquiries.filter(answered_at__isnull=False).exists()


def test_if_empty_leaves_existing_activity_alone(db):
    call_command("seed_demo", customers=100, seed=3, stdout=StringIO())
    seed(orders=10, seed=3)
    assert "no activity seeded" in seed(orders=10, seed=3, if_empty=True)
    assert Ticket.objects.count() == 11


def test_without_an_archive_it_says_what_to_do(db):
    assert "run seed_demo first" in seed()
