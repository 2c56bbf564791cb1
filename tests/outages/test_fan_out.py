from datetime import timedelta

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from groups.models import Broadcast, GroupKind, GroupMessage
from groups.services.groups import group_create
from notifications.models import Notification
from outages import services
from outages.models import OutageBroadcast, OutageNotice
from reach.models import ReachRecord
from tests.factories import DistrictFactory


def outage_rows(outage):
    return Notification.objects.filter(dedupe_key__startswith=f"outage:{outage.pk}:notice:")


def test_sensitive_customers_get_personal_notices_others_only_the_group(
    grid, populate, fault, district_group
):
    customers = populate(grid["d1"], 5, sensitive=2, email=1)
    outage = services.outage_publish(outage=fault())
    assert services.fan_out_due() == 1
    rows = {row.dedupe_key: row for row in outage_rows(outage)}
    assert set(rows) == {f"outage:{outage.pk}:notice:start:customer:{c.pk}" for c in customers[:2]}
    by_email = rows[f"outage:{outage.pk}:notice:start:customer:{customers[0].pk}"]
    assert (by_email.channel, by_email.address) == ("email", f"c{customers[0].pk}@example.com")
    by_sms = rows[f"outage:{outage.pk}:notice:start:customer:{customers[1].pk}"]
    assert (by_sms.channel, by_sms.address) == ("sms", f"139{customers[1].pk:08d}")
    assert "变压器故障" in by_sms.subject
    broadcast = Broadcast.objects.get()
    assert broadcast.topic == "outage" and list(broadcast.groups.all()) == [district_group]
    assert GroupMessage.objects.filter(group=district_group, broadcast=broadcast).count() == 1
    notice = outage.notices.get()
    assert (notice.personal_count, notice.broadcast_count) == (2, 1)
    assert notice.fanned_out_at is not None


def test_fan_out_twice_adds_nothing(grid, populate, fault, district_group):
    populate(grid["d1"], 30, sensitive=10)
    outage = services.outage_publish(outage=fault())
    services.fan_out_due()
    assert services.fan_out_due() == 0
    assert outage_rows(outage).count() == 10
    assert Broadcast.objects.count() == 1


def test_interrupted_fan_out_is_taken_over_after_the_lease(settings, grid, populate, fault, district_group):
    settings.OUTAGE_NOTICE_LEASE_SECONDS = 60
    populate(grid["d1"], 30, sensitive=12)
    outage = services.outage_publish(outage=fault())
    notice, token = services._claim_next(timezone.now())
    first = outage.affected.order_by("customer_id").first().customer_id
    with translation.override("zh-hans"):
        services._broadcast(notice)
        reach_notice = services.reach_notice_for(notice)
    last, written = services.reach_batch(
        notice, reach_notice=reach_notice, posts=services.notice_posts(notice), after_customer_id=first + 4
    )
    assert written == 25 and last
    assert outage_rows(outage).count() == 7
    # The worker dies here: nothing is marked, the claim still holds.
    assert services.fan_out_due() == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert services.fan_out_due() == 1
    assert outage_rows(outage).count() == 12
    assert ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}").count() == 30
    assert OutageBroadcast.objects.filter(notice=notice).count() == 1
    notice.refresh_from_db()
    assert notice.fanned_out_at is not None and notice.claim_token != token


def test_broadcast_is_once_per_notice_and_group(grid, populate, fault, district_group):
    populate(grid["d1"], 3, sensitive=1)
    outage = services.outage_publish(outage=fault())
    services.fan_out_due()
    services.outage_update_estimate(outage=outage, estimated_restoration=timezone.now() + timedelta(hours=8))
    services.fan_out_due()
    notice = outage.notices.get(kind="delay-1")
    assert services._broadcast(notice) == 1
    assert Broadcast.objects.count() == 2
    assert outage_rows(outage).count() == 2
    assert "恢复送电时间调整为" in outage_rows(outage).get(dedupe_key__contains=":delay-1:").subject


def test_notice_not_due_waits(grid, populate, planned):
    populate(grid["d1"], 3, sensitive=3)
    outage = services.outage_publish(outage=planned())
    assert services.fan_out_due() == 0
    with time_machine.travel(outage.planned_start - timedelta(days=1), tick=False):
        assert services.fan_out_due() == 2
    assert set(OutageNotice.objects.filter(fanned_out_at__isnull=False).values_list("kind", flat=True)) == {
        "advance-7d",
        "advance-1d",
    }
    assert outage_rows(outage).count() == 6


def _fan_out_queries(grid, populate, fault, district, count) -> int:
    populate(district, count, sensitive=count)
    outage = services.outage_publish(outage=fault(districts=[district]))
    with CaptureQueriesContext(connection) as queries:
        services.fan_out_due()
    assert outage_rows(outage).count() == count
    # The outbox's bulk insert splits a batch by the database's parameter limit
    # (one statement on PostgreSQL, a few on SQLite); everything else is counted.
    reads = [
        q
        for q in queries.captured_queries
        if "INSERT" not in q["sql"] or ("notification" not in q["sql"] and "reach_" not in q["sql"])
    ]
    return len(reads), len(queries)


def test_fan_out_queries_do_not_grow_with_customers(grid, populate, fault):
    small, _small_total = _fan_out_queries(grid, populate, fault, grid["d2"], 100)
    large, large_total = _fan_out_queries(grid, populate, fault, grid["d3"], 2000)
    # One more batch (eight queries and a savepoint pair) per 1,000 customers, never one per customer.
    assert large <= small + 12
    # Bulk inserts split by SQLite's parameter limit aside, 2,000 customers cost under 60 queries.
    assert large < 60 and large_total < 200


def test_a_sensitive_group_member_is_told_once_not_by_the_group_and_the_outage_both(
    manager, grid, populate, fault, district_group
):
    from groups.services.members import group_add_district_customers

    customers = populate(grid["d1"], 4, sensitive=2)
    added = group_add_district_customers(group=district_group, by=manager)
    assert added == 4
    outage = services.outage_publish(outage=fault())
    services.fan_out_due()
    sensitive_ids = {c.pk for c in customers[:2]}
    personal = Notification.objects.filter(channel__in=["sms", "email"])
    assert personal.count() == 2
    assert {row.dedupe_key.rsplit(":", 1)[1] for row in personal} == {str(pk) for pk in sensitive_ids}
    assert not Notification.objects.filter(dedupe_key__startswith="broadcast:").exists()
    broadcast = Broadcast.objects.get()
    assert broadcast.forward_to_important is False
    assert outage.notices.get().broadcast_count == 1


def _groups(manager, districts):
    return [
        group_create(
            by=manager, name=f"{district.name}服务群", kind=GroupKind.DISTRICT, district=district, rules="x"
        )
        for district in districts
    ]


def _broadcast_queries(notice) -> int:
    with CaptureQueriesContext(connection) as queries, translation.override("zh-hans"):
        services._broadcast(notice)
    return len(queries)


def test_the_group_broadcasts_take_the_same_queries_for_one_group_or_many(
    manager, grid, populate, fault, settings
):
    settings.WECOM_CORP_ID, settings.WECOM_CONTACT_SECRET = "ww-test", "secret"
    _groups(manager, [grid["d1"]])
    one = services.outage_publish(outage=fault()).notices.get()
    extra = [
        DistrictFactory(
            code=f"TQ-X{index}", name=f"新台区{index}", station=grid["d1"].station, line=grid["line"]
        )
        for index in range(5)
    ]
    _groups(manager, [grid["d2"], grid["d3"], *extra])
    many = services.outage_publish(
        outage=fault(districts=[grid["d1"], grid["d2"], grid["d3"], *extra])
    ).notices.get()
    assert _broadcast_queries(many) == _broadcast_queries(one)
    assert OutageBroadcast.objects.filter(notice=many).count() == 8
    assert Broadcast.objects.filter(groups__isnull=False).count() == 9
    # A worker repeating the notice finds every group posted: nothing new.
    assert services._broadcast(many) == 8
    assert Broadcast.objects.count() == 9 and GroupMessage.objects.count() == 9


def test_the_batches_end_every_batch_size_customers_and_at_the_last(settings, grid, populate, fault):
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 3
    customers = populate(grid["d1"], 7)
    notice = services.outage_publish(outage=fault()).notices.get()
    ids = sorted(customer.pk for customer in customers)
    assert services.batch_bounds(notice) == [ids[2], ids[5], ids[6]]
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 7
    assert services.batch_bounds(notice) == [ids[6]]
    assert services.fan_out_due() == 1
    assert ReachRecord.objects.count() == 7
