import pytest
from django.db import connection

from customers.sync_triggers import install_missing


def sqlite_triggers() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_triggers_dropped_by_a_table_rebuild_come_back_after_migrate():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps triggers across ALTER TABLE")
    before = sqlite_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER customers_customer_stamp_update")
    assert "customers_customer_stamp_update" not in sqlite_triggers()
    install_missing(connection)
    assert sqlite_triggers() == before
    install_missing(connection)  # idempotent
    assert sqlite_triggers() == before
