"""The order page's reminder list finds an order's outbox rows by key prefix through an index."""

import pytest
from django.db import connection

from notifications.models import Notification
from notifications.selectors import notifications_with_key_prefix
from tests.factories import NotificationFactory


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the pattern-ops index exists on PostgreSQL only"
)
def test_the_key_prefix_search_uses_the_pattern_ops_index(manager):
    for n in range(30):
        NotificationFactory(recipient=manager, dedupe_key=f"ticket:{n}:r1:warn:{manager.pk}")
    # One such index (Django's own for the unique key; a second copy only doubled the upkeep).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'notifications_notification' "
            "AND indexdef LIKE '%%(dedupe_key varchar_pattern_ops)%%'"
        )
        [(index,)] = cursor.fetchall()
    # On a test database's few rows the planner may prefer any scan, so the other ways of
    # reading the table are priced out: only an index that answers LIKE 'prefix%' stays cheap
    # (the unique index on the key, in the database's collation, cannot).
    query = Notification.objects.filter(dedupe_key__startswith="ticket:7:").order_by("-created_at", "-id")
    switches = ("enable_seqscan",)
    with connection.cursor() as cursor:
        for switch in switches:
            cursor.execute(f"SET {switch} = off")
        try:
            plan = query.explain()
        finally:
            for switch in switches:
                cursor.execute(f"RESET {switch}")
    assert index in plan, plan
    rows = notifications_with_key_prefix("ticket:7:", limit=10)
    assert [row.dedupe_key for row in rows] == [f"ticket:7:r1:warn:{manager.pk}"]
