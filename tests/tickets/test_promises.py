"""Service commitments (服务承诺) as promises: open until kept or replaced, listed, reminded once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tickets import services, sla
from tickets.models import Resolution, Status, TicketEvent
from workspace import workbench
from workspace.dashboard.figures import compute_dashboard
from workspace.dashboard.periods import period_from


def _resolved_with_promise(open_ticket, manager, *, days: int = 3):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    due = timezone.localdate() + timedelta(days=days)
    return services.ticket_resolve(
        ticket=ticket, by=manager, resolution="临时复电", commitment="三日内更换表箱", commitment_due=due
    )


def _promise_keys():
    return sorted(
        Notification.objects.filter(dedupe_key__contains=":promise").values_list("dedupe_key", flat=True)
    )


def test_a_promise_stays_open_across_a_reopening_and_is_listed(open_ticket, manager, supervisor):
    ticket = _resolved_with_promise(open_ticket, manager)
    services.ticket_reopen(ticket=ticket, by=supervisor, note="故障复发")

    section = workbench.my_promises(user=manager)
    assert [p.ticket_id for p in section.items] == [ticket.pk]
    assert section.counts == {"total": 1, "overdue": 0}
    board = compute_dashboard(user=supervisor, period=period_from({})[0])
    assert board.promises_total == 1
    assert [row["ticket__number"] for row in board.promise_rows] == [ticket.number]


def test_a_later_resolution_replaces_the_promise(open_ticket, manager, supervisor):
    ticket = _resolved_with_promise(open_ticket, manager)
    services.ticket_reopen(ticket=ticket, by=supervisor, note="故障复发")
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已更换表箱")

    assert not Resolution.objects.open_promises().exists()
    assert workbench.my_promises(user=manager).counts["total"] == 0


def test_marking_the_promise_kept_closes_it_and_is_on_the_timeline(login, open_ticket, manager):
    ticket = _resolved_with_promise(open_ticket, manager)
    url = reverse("tickets:action", args=[ticket.number, "keep-promise"])

    response = login(manager).post(url, {"note": "表箱已更换"})

    assert response.status_code == 302
    promise = Resolution.objects.get(ticket=ticket)
    assert promise.kept_at is not None and promise.kept_by == manager
    assert ticket.events.filter(action=TicketEvent.Action.PROMISE_KEPT).count() == 1
    assert workbench.my_promises(user=manager).counts["total"] == 0


def test_marking_kept_without_an_open_promise_is_refused_in_chinese(login, open_ticket, manager):
    ticket = _resolved_with_promise(open_ticket, manager)
    client = login(manager)
    url = reverse("tickets:action", args=[ticket.number, "keep-promise"])
    client.post(url, {})

    response = client.post(url, {}, follow=True)

    assert "该工单没有待兑现的服务承诺。" in response.content.decode()
    assert ticket.events.filter(action=TicketEvent.Action.PROMISE_KEPT).count() == 1


def test_an_outsider_cannot_mark_a_promise_kept(login, open_ticket, manager, outsider):
    ticket = _resolved_with_promise(open_ticket, manager)
    url = reverse("tickets:action", args=[ticket.number, "keep-promise"])

    assert login(outsider).post(url, {}).status_code == 404
    assert Resolution.objects.get(ticket=ticket).kept_at is None


def test_the_reminder_and_the_alert_go_out_exactly_once(open_ticket, manager, supervisor, settings):
    settings.TICKET_PROMISE_REMIND_DAYS = 1
    ticket = _resolved_with_promise(open_ticket, manager, days=1)
    promise = Resolution.objects.get(ticket=ticket)

    assert sla.promise_scan()["reminded"] == 1
    assert sla.promise_scan() == {"reminded": 0, "alerted": 0, "notifications": 0}  # rescan writes nothing
    reminders = _promise_keys()
    assert reminders == [f"ticket:{ticket.pk}:r1:promise:{promise.pk}:{manager.pk}"]

    two_days_later = timezone.now() + timedelta(days=2)
    first = sla.promise_scan(now=two_days_later)
    again = sla.promise_scan(now=two_days_later)
    assert (first["alerted"], again["alerted"], again["notifications"]) == (1, 0, 0)
    alerts = [k for k in _promise_keys() if "promise-missed" in k]
    assert sorted(alerts) == sorted(
        f"ticket:{ticket.pk}:r1:promise-missed:{promise.pk}:{uid}" for uid in (manager.pk, supervisor.pk)
    )


def test_a_kept_promise_is_never_reminded(open_ticket, manager):
    ticket = _resolved_with_promise(open_ticket, manager, days=0)
    services.ticket_keep_promise(ticket=ticket, by=manager)

    assert sla.promise_scan(now=timezone.now() + timedelta(days=3)) == {
        "reminded": 0,
        "alerted": 0,
        "notifications": 0,
    }


@pytest.mark.parametrize("status_after", [Status.IN_PROGRESS])
def test_the_promise_form_shows_on_the_order_page(login, open_ticket, manager, supervisor, status_after):
    ticket = _resolved_with_promise(open_ticket, manager)
    services.ticket_reopen(ticket=ticket, by=supervisor, note="故障复发")
    assert ticket.__class__.objects.get(pk=ticket.pk).status == status_after

    page = login(manager).get(reverse("tickets:detail", args=[ticket.number])).content.decode()

    assert 'data-ticket-form="keep-promise"' in page
    assert "待兑现" in page
