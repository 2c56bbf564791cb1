"""SMS delivery receipts applied in provider-sized batches, against a per-receipt loop.

    python bench/sms_receipts.py [--messages 20000] [--batch 100] [--naive-sample 2000]

Writes N sent SMS rows (Aliyun, submitted) in PostgreSQL, then measures in the
same run:
- `sms_receipts_apply` over receipts for all of them in batches of --batch (as
  Aliyun's HTTP push sends them), one in ten a failure: seconds, receipts/s,
  SQL statements per batch;
- the same receipts again (a provider repeating its push): nothing changes
  (verified: the run stops if anything does);
- a naive loop (per receipt: read the row by message id, compare, save) on a
  sample, scaled to N, and the ratio of the two.
"""

import argparse
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, record, setup_django, timed  # noqa: E402


def generate(messages: int):
    from django.db import connection
    from django.utils import timezone

    from notifications.models import Notification

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_notification RESTART IDENTITY CASCADE")
    now = timezone.now()
    rows = [
        Notification(
            dedupe_key=f"bench:sms:{i}",
            subject="停电预告",
            channel=Notification.Channel.SMS,
            address=f"138{i:08d}",
            status=Notification.Status.SENT,
            sent_at=now,
            provider="aliyun",
            provider_message_id=f"9006197469{i:08d}^0",
            delivery_status=Notification.DeliveryStatus.SUBMITTED,
        )
        for i in range(messages)
    ]
    Notification.objects.bulk_create(rows, batch_size=2000)
    # Statistics as autovacuum keeps them on a live table.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_notification")
    return now


def receipts_for(indexes, now):
    from notifications.sms_receipts import SmsReceipt

    return [
        SmsReceipt(
            message_id=f"9006197469{i:08d}^0",
            out_id=f"bench:sms:{i}",
            delivered=i % 10 != 0,
            error_code="DELIVERED" if i % 10 else "MK:0001",
            reported_at=now + timedelta(seconds=5),
            phone=f"138{i:08d}",
        )
        for i in indexes
    ]


def naive_apply(receipt) -> None:
    from notifications.models import Notification

    row = Notification.objects.get(provider="aliyun", provider_message_id=receipt.message_id)
    if row.delivery_reported_at is not None and receipt.reported_at <= row.delivery_reported_at:
        return
    row.delivery_status = "delivered" if receipt.delivered else "failed"
    row.delivery_reported_at = receipt.reported_at
    row.save(update_fields=["delivery_status", "delivery_reported_at"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    args = parser.parse_args()
    setup_django()

    from notifications.models import Notification
    from notifications.sms_receipts import sms_receipts_apply

    with timed() as generation:
        now = generate(args.messages)
    batches = [
        receipts_for(range(start, min(start + args.batch, args.messages)), now)
        for start in range(0, args.messages, args.batch)
    ]

    with counted_queries() as queries, timed() as applying:
        applied = sum(sms_receipts_apply(provider="aliyun", receipts=batch).applied for batch in batches)
    delivered = Notification.objects.filter(delivery_status="delivered").count()
    failed = Notification.objects.filter(delivery_status="failed").count()
    if applied != args.messages or delivered + failed != args.messages:
        raise SystemExit(f"receipts not applied: {applied} applied, {delivered} delivered, {failed} failed")

    with counted_queries() as again_queries, timed() as again:
        changed = sum(sms_receipts_apply(provider="aliyun", receipts=batch).applied for batch in batches)
    if changed:
        raise SystemExit(f"a repeated push changed {changed} rows")
    print(f"repeated push: {changed} rows changed")

    Notification.objects.update(delivery_status="submitted", delivery_reported_at=None)
    sample = receipts_for(range(min(args.naive_sample, args.messages)), now)
    with counted_queries() as naive_queries, timed() as naive:
        for receipt in sample:
            naive_apply(receipt)
    naive_scaled = naive.seconds / len(sample) * args.messages

    record(
        "sms_receipts",
        {
            "messages": args.messages,
            "batch_size": args.batch,
            "generation_seconds": round(generation.seconds, 2),
            "apply_seconds": round(applying.seconds, 2),
            "receipts_per_second": round(args.messages / applying.seconds),
            "queries_per_batch": round(queries.count / len(batches), 2),
            "repeat_seconds": round(again.seconds, 2),
            "repeat_queries_per_batch": round(again_queries.count / len(batches), 2),
            "naive_sample": len(sample),
            "naive_queries_per_receipt": round(naive_queries.count / len(sample), 2),
            "naive_seconds_scaled": round(naive_scaled, 2),
            "speedup_vs_naive": round(naive_scaled / applying.seconds, 1),
        },
        scale={"messages": args.messages, "batch": args.batch},
    )


if __name__ == "__main__":
    main()
