"""An outage's start notice reaching every affected customer, against per-customer loops.

    python bench/outage_fanout.py [--customers 100000] [--sensitive 2000] [--naive-sample 5000]

Generates N customers over 100 districts in PostgreSQL (each with a primary
contact), of which `--sensitive` are sensitive (one in ten of those 高敏), a
third live in districts without a WeCom-linked service group, and 1% have a
landline only; the other districts each have a 台区群 linked to WeCom. Then
measures in the same run a fault outage over all the districts, as the
county supervisor:
- publishing (freezing the affected customers; the start notice is due at once),
  then from due until `fan_out_due` finds nothing due, as beat runs it (the
  batches OUTAGE_FAN_OUT_THREADS at once, as the worker writes them): seconds
  until every reach record and outbox row is written (verified against the mix:
  one record per customer, one SMS row per customer who must get one), SQL
  statements, and Celery messages published (every publish is counted),
  per 1,000 customers (goal ≤ 1);
- publishing and fanning out again: nothing new (verified: the run stops if not);
- a per-customer loop that applies the same policy (reach/policy.py) one
  customer at a time — its rows, its record, one delivery task published —
  on a sample of the customers, scaled to N; and the same loop over the
  sensitive customers only (what telling only them one by one would cost),
  scaled to their number; the ratios against the fan-out (goal ≥ 5× against
  the sensitive-only loop). The loops run in one transaction rolled back:
  kinder to them than the autocommit a task would give them, so the ratios
  are a floor.
Load averages are printed at the start and the end.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, grid, record, setup_django, timed, vacuum_analyze  # noqa: E402

NO_GROUP_EVERY = 3  # districts 2, 5, 8 … have no WeCom-linked group: a third of the customers
NO_MOBILE_EVERY = 100  # 1% of the contacts have a landline only


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def generate(customers: int, sensitive: int):
    from django.db import connection

    from bench.generate import insert_select, sql_array
    from customers.models import Contact, Customer
    from groups.models import ServiceGroup

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notifications_notification, outages_outage, groups_servicegroup, groups_broadcast, "
            "reach_reachnotice, reach_reachrecord, "
            "customers_contact, customers_historicalcontact, customers_customer, "
            "customers_historicalcustomer RESTART IDENTITY CASCADE"
        )
    supervisor, stations, districts, managers = grid()
    count = len(districts)
    step = max(customers // max(sensitive, 1), 1)
    # Spread over the districts so that the sensitive and the landline-only customers
    # fall in districts with and without a group alike.
    index = f"(1 + (g + g / {step}) % {count})"
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
            "is_sensitive": f"g % {step} = 0 AND g / {step} <= {int(sensitive)}",
            "is_high_sensitivity": f"g % {step * 10} = 0 AND g / {step} <= {int(sensitive)}",
            "completeness": "100",
        },
        f"generate_series(1, {int(customers)}) AS g",
    )
    insert_select(
        Contact,
        {
            "customer_id": "c.id",
            "name": "'户主'",
            "mobile": f"CASE WHEN c.id % {NO_MOBILE_EVERY} = 7 THEN '' "
            "ELSE '138' || lpad((c.id % 100000000)::text, 8, '0') END",
            "landline": f"CASE WHEN c.id % {NO_MOBILE_EVERY} = 7 THEN '0855-3331234' ELSE '' END",
            "preferred_channel": "'sms'",
            "is_primary": "true",
        },
        "customers_customer c",
    )
    # A 台区群 linked to WeCom for two districts in three, run by a manager of the district's station.
    ServiceGroup.objects.bulk_create(
        ServiceGroup(
            name=f"台区群{i}",
            kind="district",
            owner=managers[i % len(managers)],
            org_unit_id=district.station_id,
            district=district,
            external_id=f"wrBench{i:04d}",
            rules="文明交流，不发广告。",
        )
        for i, district in enumerate(districts)
        if i % NO_GROUP_EVERY != 2
    )
    # The archive is old by the time an outage strikes: its rows are vacuumed (hint bits and
    # the visibility map set), as autovacuum leaves a live table. Not so, the first read of
    # each row by the fan-out would pay for setting them, and the loops run after it would not.
    vacuum_analyze()
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


@contextmanager
def timed_parts():
    """Where the fan-out's time goes (seconds per part, wall clock): the group posts,
    the policy's reads, the outbox rows, the reach records' INSERTs (the group-covered
    ones decided and written by one INSERT … SELECT a batch, the others bulk-created);
    the rest is the policy itself, the keyset over the affected customers, and the
    commits. Summed over the threads that write batches at once (OUTAGE_FAN_OUT_THREADS):
    the parts can add up to more than the wall-clock time."""
    from django.db.models.query import QuerySet

    from outages import services as outage_services
    from reach import policy
    from reach import services as reach_services

    parts = Counter()
    patched = []
    lock = threading.Lock()

    def add(part, seconds):
        with lock:
            parts[part] += seconds

    def wrap(module, name, part):
        original = getattr(module, name)

        def timed_call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                add(part, time.perf_counter() - start)

        setattr(module, name, timed_call)
        patched.append((module, name, original))

    wrap(outage_services, "_broadcast", "group_posts")
    for name in ("customer_rows", "contact_rows", "member_groups"):
        wrap(policy, name, "policy_reads")
    wrap(reach_services, "_write_outbox", "outbox_rows")
    wrap(reach_services, "_insert_group_covered", "group_records_insert_select")
    wrap(reach_services, "_insert_sms_only", "sms_rows_and_records_insert_select")
    # PostgreSQL: the two above in one statement.
    wrap(reach_services, "_insert_set_based", "group_and_sms_rows_and_records_one_statement")
    original_bulk_create = QuerySet.bulk_create

    def bulk_create(queryset, objs, *args, **kwargs):
        if queryset.model.__name__ != "ReachRecord":
            return original_bulk_create(queryset, objs, *args, **kwargs)
        start = time.perf_counter()
        try:
            return original_bulk_create(queryset, objs, *args, **kwargs)
        finally:
            add("reach_records_insert", time.perf_counter() - start)

    QuerySet.bulk_create = bulk_create
    try:
        yield parts
    finally:
        QuerySet.bulk_create = original_bulk_create
        for module, name, original in patched:
            setattr(module, name, original)


def database_floor(notice_key: str) -> float:
    """Seconds the database alone takes to insert the notice's reach records again,
    server-side (INSERT ... SELECT, foreign keys checked), rolled back: what no
    client-side work can go below."""
    from django.db import connection, transaction

    from reach.models import ReachNotice, ReachRecord

    columns = [
        field.column
        for field in ReachRecord._meta.concrete_fields
        if not field.primary_key and field.column not in ("notice_id",)
    ]
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    table = ReachRecord._meta.db_table
    with transaction.atomic():
        floor = ReachNotice.objects.create(
            key="floor", topic_key="floor", label="floor", subject="floor", dedupe_prefix="floor:"
        )
        source = ReachNotice.objects.get(key=notice_key)
        with connection.cursor() as cursor, timed() as t:
            cursor.execute(
                f"INSERT INTO {table} (notice_id, {names}) "
                f"SELECT %s, {names} FROM {table} WHERE notice_id = %s",
                [floor.pk, source.pk],
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        transaction.set_rollback(True)
    return t.seconds


def database_floor_outbox(dedupe_prefix: str) -> float:
    """The same for the notice's outbox rows (SMS and e-mail): seconds the database alone
    takes to insert them again under other keys, server-side, rolled back."""
    from django.db import connection, transaction

    from notifications.models import Notification

    columns = [
        field.column
        for field in Notification._meta.concrete_fields
        if not field.primary_key and field.column != "dedupe_key"
    ]
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    table = Notification._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor, timed() as t:
            cursor.execute(
                f"INSERT INTO {table} (dedupe_key, {names}) "
                f"SELECT 'floor:' || dedupe_key, {names} FROM {table} WHERE dedupe_key LIKE %s",
                [dedupe_prefix.replace("%", "\\%").replace("_", "\\_") + "%"],
            )
        transaction.set_rollback(True)
    return t.seconds


def fan_out_until_done() -> int:
    """What beat does, minute after minute, run back to back: until nothing is due."""
    from outages.services import fan_out_due

    notices = 0
    while sent := fan_out_due():
        notices += sent
    return notices


def expected(outage) -> dict[str, int]:
    """What the policy must write, counted from the mix itself (not from the policy)."""
    from django.db.models import Exists, OuterRef, Q

    from customers.models import Contact
    from groups.models import ServiceGroup
    from outages.models import AffectedCustomer

    affected = AffectedCustomer.objects.filter(outage=outage)
    has_group = Exists(
        ServiceGroup.objects.filter(district_id=OuterRef("customer__district_id")).exclude(external_id="")
    )
    has_mobile = Exists(Contact.objects.filter(customer_id=OuterRef("customer_id")).exclude(mobile=""))
    rows = affected.annotate(has_group=has_group, has_mobile=has_mobile)
    return {
        "affected": affected.count(),
        "sensitive": affected.filter(sensitive=True).count(),
        "sms": rows.filter(Q(sensitive=True) | Q(has_group=False), has_mobile=True).count(),
        "group": rows.filter(sensitive=False, has_group=True).count(),
    }


def naive_loop(outage, notice, customer_ids: list[int]) -> tuple[float, int, int]:
    """The loop a first version would write: per customer, the policy's inputs read
    for that customer alone, its outbox row and reach record created one by one, one
    delivery task published. Returns (seconds, statements, publishes); rolled back."""
    from django.db import transaction
    from django.utils import timezone

    from notifications.models import Notification
    from notifications.tasks import deliver_due_notifications
    from outages.services import notice_posts
    from reach import policy
    from reach.models import Channel, ReachNotice, ReachRecord

    posts = notice_posts(notice)
    with transaction.atomic(), counted_queries() as queries, counted_publishes() as publishes, timed() as t:
        naive = ReachNotice.objects.create(
            key=f"naive:{notice.pk}",
            topic_key="naive",
            label="naive",
            subject="naive",
            dedupe_prefix="naive:",
        )
        for customer_id in customer_ids:
            customer = policy.customer_rows([customer_id])[customer_id]
            contacts = policy.contact_rows([customer_id]).get(customer_id, [])
            members = policy.member_groups([c["id"] for c in contacts], list(posts.broadcasts))
            choice = policy.choose(customer, contacts, posts=posts, members=members, urgent=True)
            notification = None
            if choice.channel == Channel.SMS:
                notification = Notification.objects.create(
                    dedupe_key=f"naive:{notice.pk}:customer:{customer_id}",
                    subject=f"【停电通知】{outage.reason}",
                    channel=Notification.Channel.SMS,
                    address=choice.contact["mobile"],
                    recipient_label=choice.contact["name"],
                )
            ReachRecord.objects.create(
                notice=naive,
                customer_id=customer_id,
                station_id=customer["station_id"],
                contact_id=choice.contact["id"] if choice.contact else None,
                channel=choice.channel,
                reason=choice.reason,
                state=choice.state,
                notification=notification,
                group_id=choice.group_id,
                broadcast_id=choice.broadcast_id,
                call_state=choice.call_state,
                call_assignee_id=choice.call_assignee_id,
                state_changed_at=timezone.now(),
            )
            deliver_due_notifications.apply_async(retry=False)
        transaction.set_rollback(True)
    return t.seconds, queries.count, publishes.total


def fan_out_again(notice, *, threads: int) -> float:
    """Seconds for the notice's batches written again on `threads` connections: its records
    and outbox rows are taken away and the notice made due again first (its group posts
    stay: they are made once per notice)."""
    from django.db import connection
    from django.test.utils import override_settings

    from notifications.models import Notification
    from outages.models import OutageNotice
    from reach.models import ReachRecord

    ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}").delete()
    Notification.objects.filter(dedupe_key__startswith=notice.dedupe_prefix).delete()
    OutageNotice.objects.filter(pk=notice.pk).update(fanned_out_at=None, claimed_until=None, claim_token="")
    # The deleted rows' space and index entries taken back, as on a table autovacuum keeps.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {ReachRecord._meta.db_table}, {Notification._meta.db_table}")
    with override_settings(OUTAGE_FAN_OUT_THREADS=threads), timed() as t:
        fan_out_until_done()
    if (
        ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}").count()
        != notice.outage.affected.count()
    ):
        raise SystemExit("the fan-out run again did not write every record")
    return round(t.seconds, 3)


def written_rows() -> dict[str, int]:
    from groups.models import Broadcast, GroupMessage
    from notifications.models import Notification
    from outages.models import AffectedCustomer, OutageBroadcast
    from reach.models import ReachRecord

    return {
        "notifications": Notification.objects.count(),
        "reach_records": ReachRecord.objects.count(),
        "group_messages": GroupMessage.objects.count(),
        "broadcasts": Broadcast.objects.count(),
        "outage_broadcasts": OutageBroadcast.objects.count(),
        "affected": AffectedCustomer.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--sensitive", type=int, default=None, help="default: 2%% of the customers")
    parser.add_argument("--naive-sample", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds of the fan-out and the loop")
    args = parser.parse_args()
    if args.sensitive is None:
        args.sensitive = args.customers // 50
    load_at_start = load_average()
    print(f"load average at start: {load_at_start}")
    setup_django()

    from django.conf import settings
    from django.core.exceptions import ValidationError

    from notifications.models import Notification
    from outages.models import AffectedCustomer, OutageKind, OutageNotice
    from outages.services import notice_fan_out, outage_create, outage_publish
    from reach.models import Channel, ReachRecord

    with timed() as generation:
        supervisor, districts = generate(args.customers, args.sensitive)
    outage = outage_create(
        by=supervisor, kind=OutageKind.FAULT, reason="10kV线路故障跳闸", districts=districts
    )

    with timed() as publishing:
        outage_publish(outage=outage, by=supervisor)
    # From due (the start notice of a fault is due on publishing) to every row written.
    with (
        counted_queries() as queries,
        counted_publishes() as publishes,
        timed_parts() as parts,
        timed() as fanning,
    ):
        notices = fan_out_until_done()
    after = written_rows()
    want = expected(outage)
    affected, sensitive = want["affected"], want["sensitive"]
    notice = OutageNotice.objects.get(outage=outage, kind=OutageNotice.START)
    records = ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}")
    sms_rows = Notification.objects.filter(
        dedupe_key__startswith=notice.dedupe_prefix, channel=Notification.Channel.SMS
    ).count()
    got = {
        "records": records.count(),
        "customers": records.values("customer_id").distinct().count(),
        "sms": sms_rows,
        "group": records.filter(channel=Channel.GROUP).count(),
    }
    if (
        notice.fanned_out_at is None
        or got["records"] != affected
        or got["customers"] != affected
        or got["sms"] != want["sms"]
        or got["group"] != want["group"]
    ):
        raise SystemExit(f"fan-out incomplete or wrong: wrote {got}, expected {want}")
    channels = dict(Counter(records.values_list("channel", flat=True)))
    floor_seconds = database_floor(f"outage_notice:{notice.pk}")
    floor_outbox_seconds = database_floor_outbox(notice.dedupe_prefix)

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

    ids = list(
        AffectedCustomer.objects.filter(outage=outage)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
    )
    sample = ids[:: max(len(ids) // args.naive_sample, 1)][: args.naive_sample]
    naive_seconds, naive_queries, naive_publishes = naive_loop(outage, notice, sample)
    per_customer = naive_seconds / len(sample)
    sensitive_ids = list(
        AffectedCustomer.objects.filter(outage=outage, sensitive=True)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)[: args.naive_sample]
    )
    # The goal's ratio is read from paired rounds, as one run of either side moves by a
    # third on a shared machine: each round times the sensitive-only loop and the fan-out
    # (the first round's is the fan-out above, later ones write the batches again), and
    # the batches on one connection for the threads' share.
    threads = settings.OUTAGE_FAN_OUT_THREADS
    fan_out_runs, sensitive_runs, one_connection_runs = [round(fanning.seconds, 3)], [], []
    for round_number in range(args.rounds):
        if round_number:
            fan_out_runs.append(fan_out_again(notice, threads=threads))
        seconds, _q, _p = naive_loop(outage, notice, sensitive_ids)
        sensitive_runs.append(round(seconds / max(len(sensitive_ids), 1) * sensitive, 2))
        one_connection_runs.append(fan_out_again(notice, threads=1))
    batches_on_threads = fan_out_runs[1:] or [fan_out_again(notice, threads=threads)]
    naive_scaled = per_customer * affected
    sensitive_scaled = statistics.median(sensitive_runs)
    fan_out_median = statistics.median(fan_out_runs)
    load_at_end = load_average()
    print(f"load average at end: {load_at_end}")
    record(
        "outage_fanout",
        {
            "affected_customers": affected,
            "sensitive_customers": sensitive,
            "service_groups_linked": sum(1 for i in range(len(districts)) if i % NO_GROUP_EVERY != 2),
            "generation_seconds": round(generation.seconds, 2),
            "publish_seconds": round(publishing.seconds, 3),
            "due_to_all_rows_seconds": round(fanning.seconds, 3),
            "notices_sent": notices,
            "fan_out_threads": settings.OUTAGE_FAN_OUT_THREADS,
            # The notice's batches again (group posts already made), its rows taken away
            # before each run, on that many connections and on one.
            "batches_seconds_on_threads": batches_on_threads,
            "batches_seconds_on_one_connection": one_connection_runs,
            "speedup_threads_vs_one_connection": round(
                statistics.median(one_connection_runs) / statistics.median(batches_on_threads), 2
            ),
            "reach_records": got["records"],
            "reach_records_by_channel": channels,
            "sms_outbox_rows": got["sms"],
            "group_broadcast_messages": after["group_messages"],
            "reach_records_per_second": round(got["records"] / fanning.seconds),
            "sql_statements": queries.count,
            "broker_messages": publishes.total,
            "broker_messages_per_1000_customers": round(publishes.total * 1000 / affected, 2),
            "broker_messages_by_task": dict(publishes.by_task),
            "rerun_seconds": round(again.seconds, 3),
            "rerun_sql_statements": again_queries.count,
            "rerun_broker_messages": again_publishes.total,
            "rerun_rows_added": sum(added.values()),
            "naive_sample_customers": len(sample),
            "naive_seconds_per_customer": round(per_customer, 5),
            "naive_seconds_scaled": round(naive_scaled, 2),
            "naive_sql_statements_scaled": round(naive_queries / len(sample) * affected),
            "naive_broker_messages_scaled": round(naive_publishes / len(sample) * affected),
            "speedup_vs_naive": round(naive_scaled / fanning.seconds, 1),
            # What telling only the sensitive customers one by one costs, against
            # the fan-out telling every customer.
            "naive_sensitive_sample": len(sensitive_ids),
            "rounds": args.rounds,
            "fan_out_seconds_by_round": fan_out_runs,
            "naive_seconds_for_sensitive_only_by_round": sensitive_runs,
            "naive_seconds_for_sensitive_only": round(sensitive_scaled, 2),
            # Medians of the rounds, and each round's own ratio.
            "speedup_vs_naive_sensitive_only": round(sensitive_scaled / fan_out_median, 2),
            "speedup_vs_naive_sensitive_only_by_round": [
                round(loop / fan_out, 2) for loop, fan_out in zip(sensitive_runs, fan_out_runs, strict=True)
            ],
            # The goal (≥ 5× the sensitive-only loop) leaves the fan-out this many seconds.
            "goal_budget_seconds": round(sensitive_scaled / 5, 2),
            "fan_out_parts_seconds": {part: round(seconds, 2) for part, seconds in parts.most_common()},
            "database_floor_reach_records_seconds": round(floor_seconds, 2),
            "database_floor_outbox_rows_seconds": round(floor_outbox_seconds, 2),
            # Writing the records and outbox rows alone, against the goal's budget.
            "database_floor_seconds": round(floor_seconds + floor_outbox_seconds, 2),
            "load_average_start": load_at_start,
            "load_average_end": load_at_end,
        },
        scale={"customers": args.customers, "sensitive": args.sensitive, "naive_sample": args.naive_sample},
    )


if __name__ == "__main__":
    main()
