"""core.streaming.read_all: every row, in order, with the cursor planned for all of them."""

import pytest
from django.db import connection

from accounts.models import OrgUnit
from core.streaming import read_all
from tests.factories import OrgUnitFactory


@pytest.mark.django_db
def test_every_row_comes_back_in_order():
    units = [OrgUnitFactory(code=f"U{n:03d}", name=f"单位{n}", level=OrgUnit.Level.STATION) for n in range(7)]
    rows = list(read_all(OrgUnit.objects.order_by("-id").values_list("code", flat=True), chunk_size=3))
    assert rows == [unit.code for unit in reversed(units)]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL planner setting")
def test_the_cursor_is_planned_for_reading_every_row():
    OrgUnitFactory(code="U1", name="单位", level=OrgUnit.Level.STATION)
    seen = []
    for _code in read_all(OrgUnit.objects.values_list("code", flat=True), chunk_size=1):
        with connection.cursor() as cursor:
            cursor.execute("SHOW cursor_tuple_fraction")
            seen.append(cursor.fetchone()[0])
    assert seen == ["1"]
