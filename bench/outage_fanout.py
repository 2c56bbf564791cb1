"""An outage's start notice fanned out, against a per-customer loop.

    python bench/outage_fanout.py [--customers 100000] [--naive-sample 5000]

Generates N customers over 100 districts in PostgreSQL (each with a primary
contact, one in fifty sensitive: 2,000 at the default size) and one district
service group per district, then measures in the same run a fault outage
over all the districts, as the county supervisor:
- from `outage_publish` (freezing the affected customers, planning the start
  notice, due at once) until `fan_out_due` finds nothing due, as beat runs it:
  seconds, notification rows/s, SQL statements and broker messages (every
  Celery publish is counted);
- publishing and fanning out again: nothing new (verified: the run stops if not);
- a naive loop (per affected customer: one query for the primary contact, one
  `Notification.objects.create`, one task published) on a sample of the
  customers, scaled to N, and the ratios of the two.
"""

import argparse
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, grid, record, setup_django, timed  # noqa: E402

SENSITIVE_EVERY = 50


def generate(customers: int):
    from django.db import connection

    from bench.generate import insert_select, sql_array
    from customers.models import Contact, Customer
    from groups.models import ServiceGroup

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notifications_notification, outages_outage, groups_servicegroup, groups_broadcast, "
            "customers_contact, customers_historicalcontact, customers_customer, "
            "customers_historicalcustomer RESTART IDENTITY CASCADE"
        )
    supervisor, stations, districts, managers = grid()
    count = len(districts)
    index = f"(1 + g % {count})"
    insert_select(
        Customer,
        {
            "number": "(8100000000 + g)::text",
            "name": "'客户' || g",
            "address": "'某县某镇' || g || '号'",
            "voltage": "'220V'",
            "station_id": f"({sql_array(d.station_id for d in districts)})[{index}]",
            "district_id": f"({sql_array(d.pk for d in districts)})[{index}]",
            "line_id": f"({sql_array(d.line_id for d in districts)})[{index}]",
            "manager_id": f"({sql_array(managers[i % len(managers)].pk for i in range(count))})[{index}]",
            "is_sensitive": f"g % {SENSITIVE_EVERY} = 0",
            "completeness": "100",
        },
        f"generate_series(1, {int(customers)}) AS g",
    )
    insert_select(
        Contact,
        {
            "customer_id": "c.id",
            "name": "'户主'",
            "mobile": "'138' || lpad((c.id % 100000000)::text, 8, '0')",
            "preferred_channel": "'sms'",
            "is_primary": "true",
        },
        "customers_customer c",
    )
    # A district group per district, run by a manager of the district's station.
    ServiceGroup.objects.bulk_create(
        ServiceGroup(
            name=f"台区群{i}",
            kind="district",
            owner=managers[i % len(managers)],
            org_unit_id=district.station_id,
            district=district,
            rules="文明交流，不发广告。",
        )
        for i, district in enumerate(districts)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return supervisor, districts


class PublishCounter:
    """Counts every Celery task publish (by task name) while still sending it."""

    def __init__(self):
        self.by_task = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_task.values())


@contextmanager
def counted_publishes():
    from celery.app.task import Task

    counter = PublishCounter()
    original = Task.apply_async

    def apply_async(task, *args, **kwargs):
        counter.by_task[task.name] += 1
        return original(task, *args, **kwargs)

    Task.apply_async = apply_async
    try:
        yield counter
    finally:
        Task.apply_async = original


def fan_out_until_done() -> int:
    """What beat does, minute after minute, run back to back: until nothing is due."""
    from outages.services import fan_out_due

    notices = 0
    while sent := fan_out_due():
        notices += sent
    return notices


def naive_fan_out(outage, sample: int) -> tuple[float, int, int, int]:
    """The loop a first version would write. Returns (seconds, customers, statements, publishes).

    It runs in one transaction, rolled back afterwards: kinder to the loop than
    the autocommit a task would give it (one WAL flush per row, about ten times
    slower on the shared machines), so the ratios below are a floor.
    """
    from django.db import transaction

    from customers.models import Contact
    from notifications.models import Notification
    from notifications.tasks import deliver_due_notifications
    from outages.services import outage_scope_customers

    with transaction.atomic(), counted_queries() as queries, counted_publishes() as publishes, timed() as t:
        ids = list(outage_scope_customers(outage).order_by("pk").values_list("pk", flat=True)[:sample])
        for customer_id in ids:
            contact = Contact.objects.filter(customer_id=customer_id, is_primary=True).first()
            if contact is None:
                continue
            Notification.objects.create(
                dedupe_key=f"naive:{outage.pk}:customer:{customer_id}",
                subject=f"【停电通知】{outage.reason}",
                channel=Notification.Channel.SMS,
                address=contact.mobile,
                recipient_label=contact.name,
            )
            deliver_due_notifications.apply_async(retry=False)
        transaction.set_rollback(True)
    return t.seconds, len(ids), queries.count, publishes.total


def written_rows() -> dict[str, int]:
    from groups.models import Broadcast, GroupMessage
    from notifications.models import Notification
    from outages.models import AffectedCustomer, OutageBroadcast

    return {
        "notifications": Notification.objects.count(),
        "group_messages": GroupMessage.objects.count(),
        "broadcasts": Broadcast.objects.count(),
        "outage_broadcasts": OutageBroadcast.objects.count(),
        "affected": AffectedCustomer.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=5_000)
    args = parser.parse_args()
    setup_django()

    from django.core.exceptions import ValidationError

    from outages.models import AffectedCustomer, OutageKind, OutageNotice
    from outages.services import notice_fan_out, outage_create, outage_publish

    with timed() as generation:
        supervisor, districts = generate(args.customers)
    outage = outage_create(
        by=supervisor, kind=OutageKind.FAULT, reason="10kV线路故障跳闸", districts=districts
    )

    with counted_queries() as queries, counted_publishes() as publishes, timed() as total:
        with timed() as publishing:
            outage_publish(outage=outage, by=supervisor)
        with timed() as fanning:
            notices = fan_out_until_done()
    after = written_rows()
    affected = AffectedCustomer.objects.filter(outage=outage).count()
    sensitive = AffectedCustomer.objects.filter(outage=outage, sensitive=True).count()
    personal = after["notifications"]
    notice = OutageNotice.objects.get(outage=outage, kind=OutageNotice.START)
    if notice.fanned_out_at is None or personal != sensitive:
        raise SystemExit(f"fan-out incomplete: {personal} notifications for {sensitive} sensitive customers")

    # Again: a second publish is refused, beat finds nothing due, and a worker
    # that repeats the whole notice (its lease ran out) writes nothing new.
    with counted_queries() as again_queries, counted_publishes() as again_publishes, timed() as again:
        try:
            outage_publish(outage=outage, by=supervisor)
            republished = True
        except ValidationError:
            republished = False
        again_notices = fan_out_until_done()
        notice_fan_out(notice, notice.claim_token)
    again_rows = written_rows()
    added = {key: again_rows[key] - after[key] for key in after}
    if republished or again_notices or any(added.values()):
        raise SystemExit(f"running twice added rows: {added}, notices {again_notices}")
    print(f"run twice: publish refused, {again_notices} notices due, rows added {added}")

    naive_seconds, naive_customers, naive_queries, naive_publishes = naive_fan_out(outage, args.naive_sample)
    per_customer = naive_seconds / naive_customers
    naive_scaled = per_customer * affected
    naive_queries_scaled = round(naive_queries / naive_customers * affected)
    naive_publishes_scaled = round(naive_publishes / naive_customers * affected)
    notification_rows = personal + after["group_messages"]
    record(
        "outage_fanout",
        {
            "affected_customers": affected,
            "sensitive_customers": sensitive,
            "service_groups": len(districts),
            "generation_seconds": round(generation.seconds, 2),
            "publish_seconds": round(publishing.seconds, 3),
            "fan_out_seconds": round(fanning.seconds, 3),
            "publish_to_all_rows_seconds": round(total.seconds, 3),
            "notices_sent": notices,
            "personal_notifications": personal,
            "group_broadcast_messages": after["group_messages"],
            "notification_rows_per_second": round(notification_rows / total.seconds),
            "affected_rows_frozen_per_second": round(affected / publishing.seconds),
            "sql_statements": queries.count,
            "broker_messages": publishes.total,
            "broker_messages_by_task": dict(publishes.by_task),
            "rerun_seconds": round(again.seconds, 3),
            "rerun_sql_statements": again_queries.count,
            "rerun_broker_messages": again_publishes.total,
            "rerun_rows_added": sum(added.values()),
            "naive_sample_customers": naive_customers,
            "naive_seconds_scaled": round(naive_scaled, 2),
            "naive_sql_statements_scaled": naive_queries_scaled,
            "naive_broker_messages_scaled": naive_publishes_scaled,
            "speedup_vs_naive": round(naive_scaled / total.seconds, 1),
            "statements_ratio_naive_over_fan_out": round(naive_queries_scaled / queries.count, 1),
            "broker_messages_ratio_naive_over_fan_out": round(
                naive_publishes_scaled / max(publishes.total, 1), 1
            ),
            # The loop told every customer one by one; the fan-out tells the
            # sensitive ones one by one and the rest through their group.
            "naive_seconds_for_sensitive_only": round(per_customer * sensitive, 2),
            "speedup_vs_naive_sensitive_only": round(per_customer * sensitive / total.seconds, 2),
        },
        scale={"customers": args.customers, "naive_sample": args.naive_sample},
    )


if __name__ == "__main__":
    main()
