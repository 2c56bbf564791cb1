"""The benchmarks' data is vacuumed as autovacuum keeps a live table (PostgreSQL):
with the visibility map set, an index-only scan reads no row's page."""

import pytest
from django.db import connection

from accounts.models import OrgUnit
from bench.common import vacuum_analyze
from tests.factories import OrgUnitFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's catalogue")


def _one_value(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _all_visible_pages() -> int:
    return _one_value("SELECT relallvisible FROM pg_class WHERE relname = 'accounts_orgunit'")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_visibility_map_is_set():
    OrgUnitFactory(code="GZ", name="贵州省电力公司", level=OrgUnit.Level.PROVINCE)
    vacuum_analyze()
    assert _all_visible_pages() > 0


def _last_checkpoint() -> str:
    # The control file's, written before the CHECKPOINT command returns (the statistics
    # views are told of it a moment after).
    return _one_value("SELECT checkpoint_lsn::text FROM pg_control_checkpoint()")


def _may_checkpoint() -> bool:
    return _one_value(
        "SELECT rolsuper OR pg_has_role(current_user, 'pg_checkpoint', 'MEMBER') "
        "FROM pg_roles WHERE rolname = current_user"
    )


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_dirtied_pages_are_written_out_before_measuring():
    if not _may_checkpoint():
        pytest.skip("the database role may not ask for a checkpoint")
    before = _last_checkpoint()
    vacuum_analyze()
    assert _last_checkpoint() != before


@pytest.mark.django_db(transaction=True)
def test_a_role_that_may_not_ask_for_a_checkpoint_still_vacuums():
    if _may_checkpoint():
        pytest.skip("the database role may ask for a checkpoint")
    OrgUnitFactory(code="GZ", name="贵州省电力公司", level=OrgUnit.Level.PROVINCE)
    vacuum_analyze()
    assert _all_visible_pages() > 0


@pytest.mark.django_db
def test_inside_a_transaction_only_the_statistics_are_taken():
    OrgUnitFactory(code="GZ", name="贵州省电力公司", level=OrgUnit.Level.PROVINCE)
    vacuum_analyze()  # VACUUM would raise here
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'accounts_orgunit'")
        assert cursor.fetchone()[0] > 0
