"""The order page answers "was the assignee told?": the outbox rows of the order, with channel and status."""

from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tickets import services, sla


def test_the_order_page_lists_its_reminders_with_channel_and_status(login, open_ticket, manager, supervisor):
    ticket = open_ticket()
    other = open_ticket()
    services.ticket_urge(ticket=ticket, by=supervisor, note="请尽快")
    Notification.objects.filter(dedupe_key=f"ticket:{ticket.pk}:urge:1").update(
        status=Notification.Status.SENT, sent_at=timezone.now()
    )
    sla.sla_scan(now=timezone.now() + timezone.timedelta(days=3))

    page = login(manager).get(reverse("tickets:detail", args=[ticket.number]))

    shown = {row.dedupe_key: row for row in page.context["reminders"]}
    assert f"ticket:{ticket.pk}:urge:1" in shown
    assert any(":overdue:" in key for key in shown)
    assert not any(key.startswith(f"ticket:{other.pk}:") for key in shown)
    html = page.content.decode()
    assert "提醒记录" in html and "工单催办" in html
    assert str(Notification.Status.SENT.label) in html and str(Notification.Channel.IN_APP.label) in html


def test_an_outsider_sees_no_reminders(login, open_ticket, outsider):
    ticket = open_ticket()
    assert login(outsider).get(reverse("tickets:detail", args=[ticket.number])).status_code == 404
