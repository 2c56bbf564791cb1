"""Receipts find their outbox rows through an index that holds only rows a provider accepted."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from notifications.sms_receipts import SmsReceipt, sms_receipts_apply
from tests.notifications.test_sms_receipts import sent_sms

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="plans and partial indexes are read on PostgreSQL"
)


def index_definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'notifications_notification' "
            "AND indexdef LIKE '%%(provider_message_id)%%'"
        )
        [(definition,)] = cursor.fetchall()
    return definition


def test_rows_not_yet_accepted_by_a_provider_are_left_out_of_the_index(db):
    # A fan-out writes tens of thousands of SMS rows with no message id yet: none of them
    # is an entry to keep up.
    assert index_definition().endswith("WHERE (NOT ((provider_message_id)::text = ''::text))")


# Beyond 100 ids the planner no longer reads the list item by item.
@pytest.mark.parametrize("count", [3, 150])
def test_the_receipts_lookup_reads_the_index_whatever_the_number_of_ids(db, count):
    rows = [sent_sms(f"outage:1:c{i}", "aliyun", f"biz-{i}") for i in range(count)]
    Notification.objects.bulk_create(
        Notification(dedupe_key=f"outage:2:c{i}", subject="停电", channel="sms", address="13885550002")
        for i in range(200)
    )
    receipts = [
        SmsReceipt(message_id=f"biz-{i}", out_id="", delivered=True, error_code="DELIVERED", reported_at=None)
        for i in range(count)
    ]
    with CaptureQueriesContext(connection) as queries:
        report = sms_receipts_apply(provider="aliyun", receipts=receipts)
    assert report.applied == count
    assert {row.delivery_status for row in Notification.objects.filter(pk__in=[r.pk for r in rows])} == {
        "delivered"
    }
    [lookup] = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    # On a test database's few rows any scan may look cheapest. The table scan and the plain
    # index scans (a whole primary key read in order, filtered) are priced out, so a cheap plan
    # is left only as a bitmap read of an index these terms match.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_notification")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        cursor.execute("EXPLAIN " + lookup)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan; RESET enable_indexonlyscan")
    assert "Bitmap Index Scan on notification_provider_accepted" in plan, plan
