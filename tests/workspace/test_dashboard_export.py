"""The dashboard export: an order's title or an urge's note never becomes a formula in the workbook."""

from datetime import timedelta
from io import BytesIO

import pytest
from django.core.cache import cache
from openpyxl import load_workbook

from tests.factories import CustomerFactory
from tests.workspace.test_dashboard import NOW, _at
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

EVIL = "=cmd|' /C calc'!A0"


@pytest.fixture(autouse=True)
def sla_policies(db):
    seed_default_policies(SlaPolicy)
    cache.clear()
    yield
    cache.clear()


def test_a_formula_in_an_order_is_exported_as_text(org_tree, manager, supervisor, login):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    with _at(NOW - timedelta(hours=1)):
        ticket, _created = services.ticket_create(
            title=EVIL,
            description="客户诉求",
            customer=customer,
            opened_by=manager,
            assignee=manager,
            kind=Kind.REPAIR,
        )
    with _at(NOW - timedelta(minutes=10)):
        services.ticket_urge(ticket=ticket, by=supervisor, note="-2+3\u0007")
    with _at(NOW):
        response = login(supervisor).get("/dashboard/export.xlsx?period=7d")
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    overdue = book["超时工单"]
    assert overdue["A2"].value == ticket.number
    assert overdue["B2"].value == EVIL and overdue["B2"].data_type == "s"
    urges = book["催办记录"]
    assert urges["C2"].value == EVIL and urges["C2"].data_type == "s"
    assert urges["F2"].value == "-2+3" and urges["F2"].data_type == "s"
    assert all(cell.font.b for cell in overdue[1])
