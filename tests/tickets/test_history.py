"""Every change of an order is kept (who, when, old → new), and every 办结 is its own record that
survives a reopening: in the service, on the order's page and in the API."""

import importlib
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.api import conftest as api_fixtures
from tickets import services
from tickets.models import Resolution, Ticket, TicketEvent
from tickets.selectors import ticket_history

Action = TicketEvent.Action
api = api_fixtures.api
PROMISE = "一周内完成远程抄表改造"
PROMISED_DAY = date(2026, 12, 20)
backfill = importlib.import_module("tickets.migrations.0005_backfill_resolutions_and_history")


def detail(ticket) -> str:
    return reverse("tickets:detail", args=[ticket.number])


def resolve_reopen_resolve(ticket, *, manager, supervisor) -> Ticket:
    """Resolved with a promise, reopened by a dissatisfied return visit, resolved again."""
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(
        ticket=ticket,
        by=manager,
        resolution="已提供两种改造方案供客户选择",
        resolution_kind=Ticket.ResolutionKind.OPTIONS,
        commitment=PROMISE,
        commitment_due=PROMISED_DAY,
    )
    services.ticket_record_return_visit(
        ticket=ticket, by=supervisor, method="phone", result="dissatisfied", note="客户认为太慢"
    )
    return services.ticket_resolve(ticket=ticket, by=manager, resolution="已完成远程抄表改造")


def test_a_reopened_and_re_resolved_order_keeps_both_resolutions_and_the_promise(
    open_ticket, manager, supervisor
):
    ticket = resolve_reopen_resolve(open_ticket(), manager=manager, supervisor=supervisor)

    first, second = Resolution.objects.filter(ticket=ticket).order_by("resolved_at", "id")
    assert (first.kind, first.text, first.commitment, first.commitment_due) == (
        Ticket.ResolutionKind.OPTIONS,
        "已提供两种改造方案供客户选择",
        PROMISE,
        PROMISED_DAY,
    )
    assert (first.resolved_by, first.sla_round) == (manager, 1)
    assert (second.kind, second.text, second.commitment, second.resolved_by) == (
        Ticket.ResolutionKind.DIRECT,
        "已完成远程抄表改造",
        "",
        manager,
    )
    assert second.sla_round == 2 and second.resolved_at > first.resolved_at
    events = list(ticket.events.filter(action=Action.RESOLVED).order_by("created_at", "id"))
    assert [event.note for event in events] == [first.text, second.text]
    assert events[0].changes == {
        "resolution_kind": "提供方案选择",
        "commitment": PROMISE,
        "commitment_due": "2026-12-20",
    }
    assert events[1].changes == {"resolution_kind": "直接解决"}


def test_a_refused_resolve_writes_no_resolution_and_no_history(open_ticket, manager):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    versions = ticket.history.count()
    with pytest.raises(ValidationError):
        services.ticket_resolve(ticket=ticket, by=manager, resolution="  ", commitment="下周办好")
    assert not Resolution.objects.filter(ticket=ticket).exists()
    assert ticket.history.count() == versions
    # The same request with its text goes through: what failed was the text.
    services.ticket_resolve(
        ticket=ticket, by=manager, resolution="已修复", commitment="下周回访", commitment_due=PROMISED_DAY
    )
    assert Resolution.objects.filter(ticket=ticket).count() == 1


def test_the_page_lists_each_resolution_with_its_promise_and_the_timeline_its_text(
    login, open_ticket, manager, supervisor
):
    ticket = resolve_reopen_resolve(open_ticket(), manager=manager, supervisor=supervisor)
    response = login(supervisor).get(detail(ticket))
    assert response.status_code == 200
    page = response.content.decode()
    resolutions = page[page.index('class="list-group list-group-flush small ticket-resolutions"') :]
    resolutions = resolutions[: resolutions.index("</ol>")]
    assert resolutions.count("data-resolution=") == 2
    assert "已完成远程抄表改造" in resolutions and "已提供两种改造方案供客户选择" in resolutions
    assert PROMISE in resolutions and "2026-12-20" in resolutions
    timeline = page[page.index('class="list-group list-group-flush small ticket-timeline"') :]
    timeline = timeline[: timeline.index("</ol>")]
    assert "已提供两种改造方案供客户选择" in timeline and "已完成远程抄表改造" in timeline
    assert PROMISE in timeline


def test_the_api_detail_lists_each_resolution_read_only(api, open_ticket, manager, supervisor):
    ticket = resolve_reopen_resolve(open_ticket(), manager=manager, supervisor=supervisor)
    body = api(supervisor).get(f"/api/v1/tickets/{ticket.number}/").json()
    first, second = body["resolutions"]
    assert first["kind"] == "options" and first["commitment"] == PROMISE
    assert first["commitment_due"] == "2026-12-20" and first["resolved_by"]["username"] == manager.username
    assert second["text"] == "已完成远程抄表改造" and second["commitment_due"] is None
    # Read-only: a PATCH naming it is refused and changes nothing.
    response = api(manager).patch(
        f"/api/v1/tickets/{ticket.number}/",
        {"resolutions": []},
        format="json",
        HTTP_IF_MATCH=api(manager).get(f"/api/v1/tickets/{ticket.number}/")["ETag"],
    )
    assert response.status_code == 400
    assert Resolution.objects.filter(ticket=ticket).count() == 2


def test_the_schema_documents_resolutions_as_read_only():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    detail_schema = schema["components"]["schemas"]["TicketDetail"]
    assert "resolutions" in detail_schema["properties"]
    assert detail_schema["properties"]["resolutions"]["readOnly"] is True
    resolution = schema["components"]["schemas"]["Resolution"]["properties"]
    assert {"kind", "text", "commitment", "commitment_due", "resolved_by", "resolved_at"} <= set(resolution)


def test_each_changed_field_is_a_history_row_with_who_when_old_and_new(open_ticket, manager, supervisor):
    ticket = open_ticket(title="家中停电")
    before = timezone.now()
    services.ticket_update(ticket=ticket, by=supervisor, title="整栋楼停电", where="3栋")

    rows = ticket_history(ticket)
    edits = {row.field: row for row in rows if row.field in {"标题", "地点(Where)"}}
    assert (edits["标题"].old, edits["标题"].new) == ("家中停电", "整栋楼停电")
    assert (edits["地点(Where)"].old, edits["地点(Where)"].new) == ("", "3栋")
    assert all(row.who == str(supervisor) and row.when >= before for row in edits.values())
    # The creation is the first row, by who opened it; dispatching changed the status.
    assert rows[-1].action == "新建" and rows[-1].who == str(manager)
    assert any(row.field == "状态" and row.new == "已派单" for row in rows)


def test_steps_are_kept_in_the_history_and_urges_add_no_empty_rows(open_ticket, manager, supervisor):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    versions = ticket.history.count()
    services.ticket_urge(ticket=ticket, by=supervisor, note="请尽快")
    assert ticket.history.count() == versions
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已修复")
    changed = {}
    for row in ticket_history(ticket):  # newest first: keep each field's latest change
        changed.setdefault(row.field, (row.old, row.new, row.who))
    assert changed["处理结果"] == ("", "已修复", str(manager))
    assert changed["状态"][1] == "已办结"


def test_a_phone_in_the_history_is_masked_unless_asked_for_in_full(open_ticket, supervisor):
    ticket = open_ticket()
    services.ticket_update(ticket=ticket, by=supervisor, contact_phone="13885550002")
    masked = [row for row in ticket_history(ticket) if row.field == "联系电话"][0]
    assert (masked.old, masked.new) == ("138****0001", "138****0002")
    full = [row for row in ticket_history(ticket, mask_phones=False) if row.field == "联系电话"][0]
    assert full.new == "13885550002"


def test_the_page_shows_the_history_and_an_outsider_gets_404(login, open_ticket, manager, outsider):
    ticket = open_ticket(title="家中停电")
    services.ticket_update(ticket=ticket, by=manager, title="整栋楼停电")
    page = login(manager).get(detail(ticket)).content.decode()
    history = page[page.index('id="ticket-history-title"') :]
    assert "家中停电" in history and "整栋楼停电" in history
    assert login(outsider).get(detail(ticket)).status_code == 404


def test_the_page_costs_the_same_with_one_and_many_resolutions_and_versions(
    login, open_ticket, manager, supervisor, django_assert_max_num_queries
):
    from tests.tickets.test_pages_detail import DETAIL_PAGE_QUERIES

    small = open_ticket()
    services.ticket_sign(ticket=small, by=manager)
    services.ticket_resolve(ticket=small, by=manager, resolution="已修复")
    services.ticket_reopen(ticket=small, by=supervisor, note="故障复发")
    large = open_ticket()
    services.ticket_sign(ticket=large, by=manager)
    for n in range(6):
        services.ticket_update(ticket=large, by=manager, title=f"停电第{n}次", description=f"说明{n}")
        services.ticket_resolve(ticket=large, by=manager, resolution=f"第{n}次办结")
        services.ticket_reopen(ticket=large, by=supervisor, note="故障复发")
    assert large.resolutions.count() == 6 and large.history.count() > 20
    client = login(supervisor)
    counts = []
    for ticket in (small, large):
        with django_assert_max_num_queries(DETAIL_PAGE_QUERIES) as captured:
            response = client.get(detail(ticket))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_the_migration_gives_old_resolved_orders_a_resolution_and_a_first_version(
    open_ticket, manager, customer
):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(
        ticket=ticket, by=manager, resolution="已更换表箱", commitment=PROMISE, commitment_due=PROMISED_DAY
    )
    untouched = open_ticket()
    # As the data stood before: no resolution records, no history, events without text.
    Resolution.objects.all().delete()
    Ticket.history.all().delete()
    TicketEvent.objects.filter(action=Action.RESOLVED).update(note="", changes={})
    ticket.refresh_from_db()

    backfill.backfill_resolutions(apps, None)
    backfill.backfill_history(apps, None)
    backfill.backfill_resolutions(apps, None)  # a second run adds nothing
    backfill.backfill_history(apps, None)

    resolution = Resolution.objects.get()
    assert (resolution.ticket, resolution.text, resolution.commitment) == (ticket, "已更换表箱", PROMISE)
    assert (resolution.commitment_due, resolution.resolved_by) == (PROMISED_DAY, manager)
    assert resolution.resolved_at == ticket.resolved_at
    assert ticket.events.get(action=Action.RESOLVED).note == "已更换表箱"
    assert Ticket.history.filter(history_type="+").count() == Ticket.objects.count() == 2
    assert Ticket.history.get(id=untouched.pk).history_date == untouched.created_at
    # The first edit after the migration shows old → new.
    services.ticket_update(ticket=untouched, by=manager, title="新标题")
    row = [row for row in ticket_history(untouched) if row.field == "标题"][0]
    assert (row.old, row.new) == ("家中停电", "新标题")


def test_the_migration_takes_the_assignee_when_no_resolve_event_names_anyone(open_ticket, manager):
    ticket = open_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(
        resolution="已处理", status="resolved", resolved_at=timezone.now() - timedelta(days=2)
    )
    backfill.backfill_resolutions(apps, None)
    resolution = Resolution.objects.get(ticket=ticket)
    assert (resolution.resolved_by, resolution.kind) == (manager, Ticket.ResolutionKind.DIRECT)


def test_an_escalation_by_the_sla_scan_is_in_the_history_by_the_system(open_ticket):
    from tickets.sla import sla_scan

    ticket = open_ticket()
    versions = ticket.history.count()
    sla_scan(now=ticket.resolve_due_at + timedelta(minutes=1))
    sla_scan(now=ticket.resolve_due_at + timedelta(minutes=2))  # nothing new: no new row

    ticket.refresh_from_db()
    assert ticket.escalation_level >= 1
    assert ticket.history.count() == versions + 1
    raised = [row for row in ticket_history(ticket) if row.field == "升级级别"]
    assert [(row.who, row.old, row.new) for row in raised] == [("系统", "0", str(ticket.escalation_level))]
