from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from outages import services
from outages.models import AffectedCustomer, Outage, OutageKind, OutageStatus
from outages.selectors import workbench_outages


def test_line_includes_every_district_on_it_and_nothing_else(grid, populate, planned):
    d1 = populate(grid["d1"], 3, sensitive=1)
    d2 = populate(grid["d2"], 2)
    populate(grid["d3"], 4, sensitive=2)
    outage = planned()
    impact = services.outage_impact(outage)
    assert (impact.customers, impact.sensitive) == (5, 1)
    assert str(impact) == "影响 5 户，其中敏感客户 1 户"
    services.outage_publish(outage=outage)
    frozen = set(AffectedCustomer.objects.filter(outage=outage).values_list("customer_id", "sensitive"))
    assert frozen == {(c.pk, c.vip_tier > 0) for c in d1 + d2}


def test_lines_and_districts_combine_without_duplicates(grid, populate, planned):
    populate(grid["d1"], 2)
    populate(grid["d3"], 3, sensitive=1)
    outage = planned(lines=[grid["line"]], districts=[grid["d1"], grid["d3"]])
    services.outage_publish(outage=outage)
    assert outage.affected.count() == 5
    assert outage.affected.filter(sensitive=True).count() == 1


def test_count_uses_thousands_separator(grid, populate, planned):
    populate(grid["d1"], 1234, sensitive=37)
    impact = services.outage_impact(planned())
    assert str(impact) == "影响 1,234 户，其中敏感客户 37 户"


def test_frozen_at_publish_later_archive_edits_change_nothing(grid, populate, planned):
    first = populate(grid["d1"], 2)
    outage = services.outage_publish(outage=planned())
    Customer.objects.filter(pk=first[0].pk).update(district=grid["d3"], line=grid["other_line"], vip_tier=2)
    populate(grid["d2"], 3)
    assert outage.affected.count() == 2
    assert not outage.affected.filter(sensitive=True).exists()
    impact = services.outage_impact(outage)
    assert (impact.customers, impact.sensitive) == (2, 0)


def test_publish_twice_is_refused(grid, populate, planned):
    populate(grid["d1"], 2)
    outage = services.outage_publish(outage=planned())
    with pytest.raises(ValidationError):
        services.outage_publish(outage=outage)
    assert outage.affected.count() == 2


def test_create_validates_in_chinese(manager, grid, outsider):
    with pytest.raises(ValidationError) as error:
        services.outage_create(by=manager, kind=OutageKind.PLANNED, reason=" ")
    messages = error.value.message_dict
    assert messages["reason"] == ["请填写停电原因。"]
    assert messages["lines"] == ["请至少选择一条线路或一个台区。"]
    assert messages["planned_start"] == ["计划停电必须填写计划开始时间。"]
    with pytest.raises(ValidationError) as error:
        services.outage_create(by=outsider, kind=OutageKind.FAULT, reason="故障", districts=[grid["d1"]])
    assert error.value.message_dict["lines"] == ["只能选择您可见的线路和台区。"]
    assert not Outage.objects.exists()


def test_external_id_is_unique_when_set(manager, grid):
    services.outage_create(by=manager, kind=OutageKind.FAULT, reason="故障", districts=[grid["d1"]])
    services.outage_create(by=manager, kind=OutageKind.FAULT, reason="故障", districts=[grid["d1"]])
    services.outage_create(
        by=manager, kind=OutageKind.FAULT, reason="故障", districts=[grid["d1"]], external_id="PMS-1"
    )
    with pytest.raises(ValidationError) as error:
        services.outage_create(
            by=manager, kind=OutageKind.FAULT, reason="故障", districts=[grid["d1"]], external_id="PMS-1"
        )
    assert error.value.message_dict["external_id"] == ["该外部编号已存在。"]


def test_fault_is_ongoing_from_publish(fault, populate, grid):
    populate(grid["d1"], 1)
    outage = services.outage_publish(outage=fault())
    assert outage.status == OutageStatus.ONGOING
    assert outage.actual_start is not None


def test_scoping(manager, colleague, supervisor, outsider, admin_user, fault):
    outage = fault()
    for user in (manager, colleague, supervisor, admin_user):
        assert Outage.objects.visible_to(user).filter(pk=outage.pk).exists()
    assert not Outage.objects.visible_to(outsider).exists()


@pytest.fixture
def every_way_in(grid, populate, manager):
    """Customers reached each way: a listed district, a district on a listed line,
    fed by a listed line directly (no district); and some who are not."""
    populate(grid["d3"], 1)  # a listed district (its line is not listed)
    populate(grid["d1"], 2)  # a district on the listed line
    station = grid["line"].station
    direct = [
        Customer.objects.create(number=f"80000000{n:02d}", name=f"专线客户{n}", station=station, line=line)
        for n, line in enumerate([grid["line"], grid["other_line"]])
    ]
    gone = populate(grid["d1"], 1)[0]
    Customer.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    # Both ways in: counted once.
    Customer.objects.filter(pk=direct[0].pk).update(district=grid["d2"])
    return 4


def test_every_way_in_counts_once_and_deleted_customers_never(grid, every_way_in, planned, manager):
    outage = planned(lines=[grid["line"]], districts=[grid["d3"]])
    # Another outage in the same list: each row counts its own scope.
    smaller = planned(lines=[], districts=[grid["d3"]])
    assert services.outage_impact(outage).customers == every_way_in
    assert services.outage_impact(smaller).customers == 1
    rows, _total = workbench_outages(manager, now=outage.planned_start - timedelta(days=1))
    assert {row.pk: row.affected_count for row in rows} == {outage.pk: every_way_in, smaller.pk: 1}
    services.outage_publish(outage=outage)
    assert outage.affected.count() == every_way_in


SCANS_AND_BULK_JOINS = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plan")
def test_the_impact_reads_the_scope_by_index_not_every_customer(grid, populate, planned):
    """An outage of one district in a prefecture of a million customers reads that district's customers."""
    populate(grid["d1"], 3)
    populate(grid["foreign"], 2000)
    outage = planned(lines=[], districts=[grid["d1"]])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    with CaptureQueriesContext(connection) as queries:
        assert services.outage_impact(outage).customers == 3
    assert _customer_rows_read(queries[-1]["sql"]) < 50


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plan")
def test_the_workbench_counts_an_unpublished_outage_by_index_not_every_customer(
    grid, populate, planned, manager
):
    """The workbench's live count of a planned outage reads the outage's customers only, not the
    archive: a correlated OR of the ways in had PostgreSQL scan every customer for each outage."""
    populate(grid["d1"], 3)
    populate(grid["foreign"], 2000)
    outage = planned(lines=[grid["other_line"]], districts=[grid["d1"]])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    with CaptureQueriesContext(connection) as queries:
        rows, _total = workbench_outages(manager, now=outage.planned_start - timedelta(days=1))
    assert {row.pk: row.affected_count for row in rows} == {outage.pk: 3}
    assert _customer_rows_read(queries[-1]["sql"]) < 50


def _customer_rows_read(sql: str) -> int:
    """Customer rows the statement reads (kept or filtered out), by its plan when scans and
    bulk joins are off: a test's tables are small enough for them to be cheapest, so asked
    for index lookups, the planner shows whether the query allows them."""
    with connection.cursor() as cursor:
        for setting in SCANS_AND_BULK_JOINS:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0][0]["Plan"]
        for setting in SCANS_AND_BULK_JOINS:
            cursor.execute(f"RESET {setting}")
    return sum(
        node.get("Actual Rows", 0) * node.get("Actual Loops", 1) + node.get("Rows Removed by Filter", 0)
        for node in _nodes(plan)
        if node.get("Relation Name") == "customers_customer"
    )


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
