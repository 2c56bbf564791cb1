from tickets import services
from tickets.models import Ticket


def visible(user) -> set[int]:
    return set(Ticket.objects.visible_to(user).values_list("id", flat=True))


def test_the_assignee_unit_and_supervisor_see_an_order_and_the_outsider_does_not(
    open_ticket, manager, colleague, supervisor, outsider, admin_user
):
    ticket = open_ticket()
    assert ticket.id in visible(manager)
    assert ticket.id in visible(colleague)
    assert ticket.id in visible(supervisor)
    assert ticket.id in visible(admin_user)
    assert visible(outsider) == set()


def test_the_tracker_and_the_customers_manager_keep_a_transferred_order(
    open_ticket, manager, colleague, org_tree
):
    from tests.factories import UserFactory

    tracker = UserFactory(org_unit=org_tree["other_station"])
    ticket = open_ticket()
    services.ticket_transfer(
        ticket=ticket, by=manager, to_unit=org_tree["sibling_station"], reason="跨所处理", tracker=tracker
    )
    assert ticket.id in visible(tracker)
    assert ticket.id in visible(manager)  # the customer's own account manager
    assert ticket.id not in visible(colleague)  # the order left their station
