"""The customer's own rating (自助评价): a signed, single-use, expiring, rate-limited link."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tickets import services
from tickets.models import ReturnVisit, Status, Ticket
from tickets.survey import survey_token


@pytest.fixture(autouse=True)
def fresh_rate_counts():
    cache.clear()


@pytest.fixture
def resolved(open_ticket, manager):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    return services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")


def _link(ticket: Ticket) -> str:
    visit = ticket.return_visits.get()
    return reverse("tickets:survey", args=[survey_token(visit.pk)])


def test_resolving_sends_the_survey_link_by_sms_through_the_outbox(resolved):
    sms = Notification.objects.get(template_kind="satisfaction_survey")
    assert (sms.channel, sms.address, sms.quiet) == (Notification.Channel.SMS, "13885550001", True)
    assert sms.template_params["number"] == resolved.number
    assert sms.template_params["link"].endswith(_link(resolved))


def test_the_customer_rates_once_and_the_link_is_spent(client, resolved):
    url = _link(resolved)
    assert client.get(url).status_code == 200

    response = client.post(url, {"result": "satisfied", "comment": "抢修很快"})

    assert response.status_code == 200 and "感谢您的评价" in response.content.decode()
    visit = resolved.return_visits.get()
    assert (visit.method, visit.result, visit.note, visit.visited_by) == (
        ReturnVisit.Method.SELF_SERVICE,
        "satisfied",
        "抢修很快",
        None,
    )
    assert Ticket.objects.get(pk=resolved.pk).status == Status.VISITED
    again = client.post(url, {"result": "dissatisfied"})
    assert again.status_code == 410
    assert ReturnVisit.objects.get(pk=visit.pk).result == "satisfied"


def test_dissatisfied_reopens_the_order_and_tells_the_supervisors(client, resolved, supervisor):
    client.post(_link(resolved), {"result": "dissatisfied", "comment": "还是停电"})

    ticket = Ticket.objects.get(pk=resolved.pk)
    assert ticket.status == Status.IN_PROGRESS and ticket.sla_round == 2
    assert Notification.objects.filter(recipient=supervisor, dedupe_key__contains="dissatisfied").count() == 1


def test_bad_input_changes_nothing(client, resolved):
    url = _link(resolved)
    response = client.post(url, {"result": "great"})
    assert response.status_code == 400 and "请选择满意程度。" in response.content.decode()
    assert client.post(url, {"result": "basically", "comment": "长" * 501}).status_code == 400
    assert not resolved.return_visits.filter(visited_at__isnull=False).exists()
    assert client.post(url, {"result": "basically"}).status_code == 200  # the same link still works


def test_a_tampered_link_is_refused(client, resolved):
    token = survey_token(resolved.return_visits.get().pk)
    visit_id, rest = token.split(":", 1)
    forged = f"{int(visit_id) + 1}:{rest}"

    response = client.post(reverse("tickets:survey", args=[forged]), {"result": "satisfied"})

    assert response.status_code == 404 and "评价链接无效" in response.content.decode()
    assert client.get(reverse("tickets:survey", args=["abc"])).status_code == 404
    assert not ReturnVisit.objects.filter(visited_at__isnull=False).exists()


def test_an_expired_link_is_refused(client, resolved, settings):
    settings.TICKET_SURVEY_DAYS = 7
    url = _link(resolved)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        response = client.post(url, {"result": "satisfied"})
    assert response.status_code == 410 and "已过期" in response.content.decode()
    assert not ReturnVisit.objects.filter(visited_at__isnull=False).exists()


def test_too_many_requests_from_one_address_are_refused(client, resolved, settings):
    settings.TICKET_SURVEY_RATE_LIMIT = 3
    url = _link(resolved)
    codes = [client.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.post(url, {"result": "satisfied"}).status_code == 429
    assert not ReturnVisit.objects.filter(visited_at__isnull=False).exists()
    other = client.get(url, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


def test_the_dashboard_can_tell_self_service_from_staff_visits(client, resolved):
    client.post(_link(resolved), {"result": "satisfied"})
    assert ReturnVisit.objects.filter(method=ReturnVisit.Method.SELF_SERVICE).count() == 1
