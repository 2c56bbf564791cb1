"""The person who handled or resolved an order does not record its return visit."""

from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from tickets import permissions, services
from tickets.models import ReturnVisit, Status, Ticket

REFUSAL = "处理或办结该工单的人员不能为其回访"


def _resolved(open_ticket, manager):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    return services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")


def test_the_handler_is_refused_on_the_page(login, open_ticket, manager):
    ticket = _resolved(open_ticket, manager)
    client = login(manager)
    url = reverse("tickets:action", args=[ticket.number, "return-visit"])

    response = client.post(url, {"method": "phone", "result": "satisfied"})

    assert response.status_code == 403 and REFUSAL in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    page = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    assert 'data-ticket-form="return-visit"' not in page


def test_the_handler_is_refused_in_the_api(open_ticket, manager):
    ticket = _resolved(open_ticket, manager)
    api = APIClient()
    api.force_authenticate(manager)

    url = f"/api/v1/tickets/{ticket.number}/return-visit/"
    response = api.post(url, {"method": "phone", "result": "satisfied"}, format="json")

    assert response.status_code == 403 and REFUSAL in response.json()["detail"]
    assert not ReturnVisit.objects.filter(visited_at__isnull=False).exists()


def test_a_resolver_no_longer_assigned_is_refused_too(open_ticket, manager, colleague, supervisor):
    ticket = _resolved(open_ticket, manager)
    services.ticket_reopen(ticket=ticket, by=supervisor, note="复查")
    ticket = Ticket.objects.get(pk=ticket.pk)
    ticket.assignee = colleague  # the order changed hands after the resolver's 办结
    ticket.save(update_fields=["assignee"])
    services.ticket_resolve(ticket=ticket, by=colleague, resolution="已复查")

    assert not permissions.can(manager, "return_visit", Ticket.objects.get(pk=ticket.pk))


def test_a_supervisor_or_a_colleague_records_it(login, open_ticket, manager, supervisor):
    ticket = _resolved(open_ticket, manager)
    url = reverse("tickets:action", args=[ticket.number, "return-visit"])

    response = login(supervisor).post(url, {"method": "phone", "result": "satisfied"})

    assert response.status_code == 302
    assert ticket.return_visits.get().visited_by == supervisor


def test_staff_cannot_pose_as_the_customers_own_rating(open_ticket, manager, supervisor):
    ticket = _resolved(open_ticket, manager)
    try:
        services.ticket_record_return_visit(ticket=ticket, by=supervisor, method="self", result="satisfied")
    except ValidationError as exc:
        assert "method" in exc.message_dict
    else:
        raise AssertionError("a staff visit recorded as self-service")
