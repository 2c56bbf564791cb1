"""Supervisor controls: 改派 (reassign) within the subtree, urging by a transfer's tracker,
transfers kept within the prefecture, and phones masked for the receiving unit."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import OrgUnit, User
from notifications.models import Notification
from tests.api import conftest as api_fixtures
from tests.api_errors import field_messages
from tests.factories import OrgUnitFactory, UserFactory
from tests.tickets.test_pages_support import listed_numbers
from tickets import services
from tickets.models import Status, Ticket, TicketEvent

Action = TicketEvent.Action
api = api_fixtures.api


def action_url(ticket, step: str) -> str:
    return reverse("tickets:action", args=[ticket.number, step])


def detail_url(ticket) -> str:
    return reverse("tickets:detail", args=[ticket.number])


def api_step(ticket, step: str) -> str:
    return f"/api/v1/tickets/{ticket.number}/{step}/"


def unchanged(ticket) -> tuple:
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (
        fresh.version,
        fresh.org_unit_id,
        fresh.assignee_id,
        fresh.events.count(),
        Notification.objects.count(),
    )


@pytest.fixture
def sibling_manager(org_tree) -> User:
    return UserFactory(username="sunqi", real_name="孙七", org_unit=org_tree["sibling_station"])


@pytest.fixture
def other_supervisor(org_tree) -> User:
    """The supervisor of the other county: the order is outside their subtree."""
    return UserFactory(
        username="zhouba", real_name="周八", org_unit=org_tree["other_county"], role=User.Role.SUPERVISOR
    )


@pytest.fixture
def far_unit(org_tree) -> OrgUnit:
    """A station in another prefecture of the province."""
    prefecture = OrgUnitFactory(
        code="ZY", name="遵义供电局", level=OrgUnit.Level.PREFECTURE, parent=org_tree["province"]
    )
    county = OrgUnitFactory(code="ZYX", name="遵义县供电局", level=OrgUnit.Level.COUNTY, parent=prefecture)
    return OrgUnitFactory(code="ZY01", name="遵义供电所", level=OrgUnit.Level.STATION, parent=county)


# --- 改派 ---------------------------------------------------------------------------------


def test_a_supervisor_reassigns_an_unsigned_order_keeping_its_clock(
    login, supervisor, manager, sibling_manager, open_ticket, org_tree
):
    ticket = open_ticket()
    before = Ticket.objects.get(pk=ticket.pk)

    response = login(supervisor).post(
        action_url(ticket, "reassign"),
        {"org_unit": org_tree["sibling_station"].pk, "assignee": sibling_manager.pk, "reason": "处理人休假"},
    )

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.org_unit, ticket.assignee) == (
        Status.DISPATCHED,
        org_tree["sibling_station"],
        sibling_manager,
    )
    assert (ticket.sign_due_at, ticket.resolve_due_at, ticket.sla_round) == (
        before.sign_due_at,
        before.resolve_due_at,
        before.sla_round,
    )
    event = ticket.events.get(action=Action.REASSIGNED)
    assert event.actor == supervisor and event.note == "处理人休假"
    assert event.changes == {"org_unit": "雷山供电所 → 丹江供电所", "assignee": "张三 → 孙七"}
    page = login(supervisor).get(detail_url(ticket)).content.decode()
    assert "责任单位：雷山供电所 → 丹江供电所" in page and "处理人：张三 → 孙七" in page
    told = Notification.objects.filter(dedupe_key__contains=":reassigned")
    assert sorted(told.values_list("recipient__username", flat=True)) == ["sunqi", "zhangsan"]
    # The new assignee finds it in their list and may sign for it.
    listed = login(sibling_manager).get(reverse("tickets:list"))
    assert ticket.number in listed_numbers(listed)
    services.ticket_sign(ticket=ticket, by=sibling_manager)


def test_a_signed_order_is_reassigned_but_an_order_in_progress_is_not(
    supervisor, manager, colleague, open_ticket, org_tree
):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_reassign(
        ticket=ticket, by=supervisor, org_unit=org_tree["station"], assignee=colleague, reason="调整"
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.SIGNED, colleague)

    services.ticket_start(ticket=ticket, by=colleague)
    with pytest.raises(ValidationError):
        services.ticket_reassign(
            ticket=ticket, by=supervisor, org_unit=org_tree["station"], assignee=manager, reason="调整"
        )


def test_reassign_needs_a_reason_and_a_change(supervisor, manager, open_ticket, org_tree):
    ticket = open_ticket()
    before = unchanged(ticket)
    with pytest.raises(ValidationError) as blank:
        services.ticket_reassign(
            ticket=ticket, by=supervisor, org_unit=org_tree["station"], assignee=None, reason=" "
        )
    assert set(blank.value.message_dict) == {"reason"}
    with pytest.raises(ValidationError) as same:
        services.ticket_reassign(
            ticket=ticket, by=supervisor, org_unit=org_tree["station"], assignee=manager, reason="调整"
        )
    assert set(same.value.message_dict) == {"assignee"}
    assert unchanged(ticket) == before


def test_an_account_manager_may_not_reassign(login, manager, colleague, open_ticket, org_tree):
    ticket = open_ticket()
    before = unchanged(ticket)

    response = login(manager).post(
        action_url(ticket, "reassign"),
        {"org_unit": org_tree["station"].pk, "assignee": colleague.pk, "reason": "我想换人"},
    )

    assert response.status_code == 403
    assert unchanged(ticket) == before
    with pytest.raises(PermissionDenied):
        services.ticket_reassign(
            ticket=ticket, by=manager, org_unit=org_tree["station"], assignee=colleague, reason="我想换人"
        )


def test_reassign_to_a_unit_outside_the_subtree_is_refused(
    login, supervisor, outsider, open_ticket, org_tree
):
    ticket = open_ticket()
    before = unchanged(ticket)

    response = login(supervisor).post(
        action_url(ticket, "reassign"),
        {"org_unit": org_tree["other_station"].pk, "assignee": outsider.pk, "reason": "跨县"},
    )

    assert response.status_code == 200
    assert "所选单位不在您的管辖范围内。" in response.content.decode()
    assert unchanged(ticket) == before
    with pytest.raises(ValidationError) as refused:
        services.ticket_reassign(
            ticket=ticket, by=supervisor, org_unit=org_tree["other_station"], assignee=outsider, reason="跨县"
        )
    assert set(refused.value.message_dict) == {"org_unit"}


def test_another_countys_supervisor_gets_404_on_page_and_api(
    login, api, other_supervisor, colleague, open_ticket, org_tree
):
    ticket = open_ticket()
    before = unchanged(ticket)
    body = {"org_unit": org_tree["station"].pk, "assignee": colleague.pk, "reason": "越权"}

    assert login(other_supervisor).post(action_url(ticket, "reassign"), body).status_code == 404
    response = api(other_supervisor).post(
        api_step(ticket, "reassign"),
        {"org_unit": "LS01", "assignee": "lisi", "reason": "越权"},
        format="json",
    )
    assert response.status_code == 404
    assert unchanged(ticket) == before


def test_the_api_reassigns_with_a_current_etag_and_refuses_a_stale_one(
    api, supervisor, manager, colleague, open_ticket
):
    ticket = open_ticket()
    client = api(supervisor)
    stale = client.get(f"/api/v1/tickets/{ticket.number}/")["ETag"]
    services.ticket_urge(ticket=ticket, by=supervisor, note="快")
    before = unchanged(ticket)
    body = {"org_unit": "LS01", "assignee": "lisi", "reason": "处理人休假"}

    response = client.post(api_step(ticket, "reassign"), body, format="json", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert unchanged(ticket) == before
    current = response["ETag"]
    response = client.post(api_step(ticket, "reassign"), body, format="json", HTTP_IF_MATCH=current)
    assert response.status_code == 200, response.content
    assert Ticket.objects.get(pk=ticket.pk).assignee == colleague
    assert response.json()["timeline"][-1]["action"] == Action.REASSIGNED
    bad = client.post(api_step(ticket, "reassign"), {"org_unit": "KL01", "reason": "跨县"}, format="json")
    assert bad.status_code == 400 and "org_unit" in field_messages(bad)


# --- 催办 by the tracker ----------------------------------------------------------------------


def test_the_tracker_of_a_transfer_may_urge_it(
    login, manager, colleague, sibling_manager, open_ticket, org_tree
):
    ticket = open_ticket()
    services.ticket_transfer(
        ticket=ticket,
        by=manager,
        to_unit=org_tree["sibling_station"],
        to_user=sibling_manager,
        reason="跨所处理",
        tracker=colleague,
    )

    response = login(colleague).post(action_url(ticket, "urge"), {"note": "请尽快"})

    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.urge_count == 1
    assert Notification.objects.filter(recipient=sibling_manager, dedupe_key__endswith=":urge:1").exists()
    # Someone who is not the tracker still may not.
    with pytest.raises(PermissionDenied):
        services.ticket_urge(ticket=ticket, by=manager)


# --- Transfers within the prefecture, phones masked --------------------------------------------


def test_a_transfer_outside_the_prefecture_is_refused(login, manager, open_ticket, far_unit):
    ticket = open_ticket()
    before = unchanged(ticket)

    response = login(manager).post(
        action_url(ticket, "transfer"), {"to_unit": far_unit.pk, "tracker": manager.pk, "reason": "跨市"}
    )

    assert response.status_code == 200
    assert "只能转办给黔东南供电局范围内的单位。" in response.content.decode()
    assert unchanged(ticket) == before


def test_a_transfer_within_the_prefecture_is_allowed(manager, open_ticket, org_tree):
    ticket = open_ticket()
    services.ticket_transfer(
        ticket=ticket, by=manager, to_unit=org_tree["other_station"], reason="跨县处理", tracker=manager
    )
    assert Ticket.objects.get(pk=ticket.pk).org_unit == org_tree["other_station"]


def test_the_province_scope_lets_a_transfer_leave_the_prefecture(settings, manager, open_ticket, far_unit):
    settings.TICKET_TRANSFER_SCOPE = "province"
    ticket = open_ticket()
    services.ticket_transfer(ticket=ticket, by=manager, to_unit=far_unit, reason="跨市", tracker=manager)
    assert Ticket.objects.get(pk=ticket.pk).org_unit == far_unit


def test_the_receiving_unit_sees_the_phone_masked(login, api, manager, outsider, open_ticket, org_tree):
    ticket = open_ticket()
    services.ticket_transfer(
        ticket=ticket,
        by=manager,
        to_unit=org_tree["other_station"],
        to_user=outsider,
        reason="跨县处理",
        tracker=manager,
    )

    page = login(outsider).get(detail_url(ticket)).content.decode()
    assert "138****0001" in page and "13885550001" not in page
    assert api(outsider).get(f"/api/v1/tickets/{ticket.number}/").json()["contact_phone"] == "138****0001"
    # The customer's own manager still sees it in full.
    assert "13885550001" in login(manager).get(detail_url(ticket)).content.decode()


def test_a_phone_edit_on_the_timeline_is_masked_for_the_receiving_unit(
    login, api, manager, outsider, open_ticket, org_tree
):
    ticket = open_ticket()
    services.ticket_update(ticket=ticket, by=manager, contact_phone="13900002222")
    services.ticket_transfer(
        ticket=ticket,
        by=manager,
        to_unit=org_tree["other_station"],
        to_user=outsider,
        reason="跨县处理",
        tracker=manager,
    )

    page = login(outsider).get(detail_url(ticket)).content.decode()
    assert "139****2222" in page and "138****0001" in page
    assert "13900002222" not in page and "13885550001" not in page
    events = api(outsider).get(f"/api/v1/tickets/{ticket.number}/").json()["timeline"]
    edited = [event["changes"] for event in events if event["changes"].get("contact_phone")]
    assert edited == [{"contact_phone": "138****0001 → 139****2222"}]
    # The customer's own manager reads the edit as it was made.
    assert "13885550001 → 13900002222" in login(manager).get(detail_url(ticket)).content.decode()


def test_a_transfer_offers_and_staffs_only_units_of_the_prefecture(
    login, manager, open_ticket, org_tree, far_unit
):
    ticket = open_ticket()
    UserFactory(username="far", real_name="远方", org_unit=far_unit, role=User.Role.ACCOUNT_MANAGER)
    client = login(manager)

    page = client.get(reverse("tickets:detail", args=[ticket.number])).content.decode()
    assert org_tree["other_station"].name in page
    assert far_unit.name not in page

    options = reverse("tickets:staff_options")
    far = client.get(options, {"to_unit": far_unit.pk, "ticket": ticket.number}).content.decode()
    assert "远方" not in far
    near = client.get(options, {"to_unit": org_tree["station"].pk, "ticket": ticket.number}).content.decode()
    assert manager.real_name in near
