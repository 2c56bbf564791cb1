"""One SLA scan over many open work orders, against a per-order loop.

    python bench/sla_scan.py [--orders 100000] [--naive-sample 2000]

Generates N open repair orders in PostgreSQL (a tenth past their resolve
deadline, fifteen percent past the warning point, the rest fresh), then
measures in the same run:
- one `sla_scan`: seconds, orders/s, SQL statements, notifications written;
- a second scan at the same moment: statements and new notifications (0);
- a naive loop (read each order, decide, enqueue one by one) on a sample of
  the due orders, scaled to the same number, and the ratio of the two.
"""

import argparse
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, record, setup_django, timed  # noqa: E402

BATCH = 5000


def generate(orders: int):
    from django.db import connection
    from django.utils import timezone

    from accounts.models import OrgUnit, User
    from customers.models import Customer
    from tickets import sla
    from tickets.models import Kind, Status, Ticket

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notifications_notification, tickets_ticket, customers_customer, "
            "customers_historicalcustomer RESTART IDENTITY CASCADE"
        )
    province, _ = OrgUnit.objects.get_or_create(code="BGZ", defaults={"name": "省公司", "level": 1})
    county, _ = OrgUnit.objects.get_or_create(
        code="BLS", defaults={"name": "县供电局", "level": 3, "parent": province}
    )
    stations = [
        OrgUnit.objects.get_or_create(
            code=f"BST{i}", defaults={"name": f"供电所{i}", "level": 4, "parent": county}
        )[0]
        for i in range(10)
    ]
    User.objects.get_or_create(
        username="bench-supervisor", defaults={"real_name": "主管", "org_unit": county, "role": "supervisor"}
    )
    managers = [
        User.objects.get_or_create(
            username=f"bench-manager-{i}", defaults={"real_name": f"经理{i}", "org_unit": stations[i % 10]}
        )[0]
        for i in range(50)
    ]
    customers = Customer.objects.bulk_create(
        Customer(
            number=f"{8000000000 + i}", name=f"客户{i}", station=stations[i % 10], manager=managers[i % 50]
        )
        for i in range(2000)
    )
    policy = sla.policy_for(kind=Kind.REPAIR, category="other", urgency=0, sensitive=False)
    now = timezone.now()
    for start in range(0, orders, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, orders)):
            # 10% overdue, 15% near the deadline, 75% fresh.
            age = 300 if i % 20 < 2 else 200 if i % 20 < 5 else 1
            opened = now - timedelta(minutes=age)
            clock = sla.clock_for(policy, opened)
            manager = managers[i % 50]
            rows.append(
                Ticket(
                    number=f"BM{i:010d}",
                    kind=Kind.REPAIR,
                    customer=customers[i % 2000],
                    title="停电报修",
                    description="客户反映家中无电。",
                    org_unit_id=manager.org_unit_id,
                    assignee=manager,
                    status=Status.SIGNED,
                    policy=policy,
                    sign_warn_at=clock.sign_warn_at,
                    sign_due_at=clock.sign_due_at,
                    resolve_warn_at=clock.resolve_warn_at,
                    resolve_due_at=clock.resolve_due_at,
                    next_escalation_at=clock.resolve_due_at,
                    escalation_step=clock.escalation_step,
                    signed_at=opened,
                    sign_reminded=True,
                    created_at=opened,
                )
            )
        Ticket.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
    return now


def naive_scan(sample: int, now) -> float:
    """The loop a first version would write: one order at a time. Rolled back."""
    from django.db import transaction

    from notifications.services import notification_enqueue
    from tickets.models import Ticket

    with transaction.atomic(), timed() as t:
        ids = list(
            Ticket.objects.open()
            .filter(resolve_warned=False, resolve_warn_at__lte=now)
            .values_list("id", flat=True)[:sample]
        )
        for ticket_id in ids:
            ticket = Ticket.objects.select_related("assignee").get(pk=ticket_id)
            if ticket.resolve_due_at > now:
                notification_enqueue(
                    dedupe_key=f"naive:{ticket.pk}:warn",
                    subject=f"工单即将超时：{ticket.number}",
                    recipient=ticket.assignee,
                )
            ticket.resolve_warned = True
            ticket.save(update_fields=["resolve_warned"])
        transaction.set_rollback(True)
    return t.seconds / max(len(ids), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    args = parser.parse_args()
    setup_django()

    from notifications.models import Notification
    from tickets import sla
    from tickets.models import Ticket

    with timed() as generation:
        now = generate(args.orders)
    due = Ticket.objects.open().filter(resolve_warn_at__lte=now).count()
    per_order_naive = naive_scan(args.naive_sample, now)

    with counted_queries() as first_queries, timed() as first:
        result = sla.sla_scan(now=now)
    written = Notification.objects.count()
    with counted_queries() as second_queries, timed() as second:
        sla.sla_scan(now=now)
    new_on_rescan = Notification.objects.count() - written

    naive_seconds = per_order_naive * due
    record(
        "sla_scan",
        {
            "open_orders": args.orders,
            "orders_due_for_a_reminder": due,
            "generation_seconds": round(generation.seconds, 2),
            "scan_seconds": round(first.seconds, 3),
            "scan_orders_per_second": round(due / first.seconds),
            "scan_sql_statements": first_queries.count,
            "notifications_written": written,
            "rescan_seconds": round(second.seconds, 3),
            "rescan_sql_statements": second_queries.count,
            "rescan_new_notifications": new_on_rescan,
            "naive_loop_seconds_scaled": round(naive_seconds, 2),
            "speedup_vs_naive_loop": round(naive_seconds / first.seconds, 1),
            "escalations": result.escalations,
            "warnings": result.warnings,
        },
        scale={"orders": args.orders, "naive_sample": args.naive_sample},
    )


if __name__ == "__main__":
    main()
