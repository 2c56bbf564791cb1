"""The batches of a notice written at once on PostgreSQL, and a restoration arriving meanwhile:
it waits for the batches under way, withdraws what they wrote, and no batch starts after it."""

import threading

import pytest
from django.db import connection, connections

from notifications.models import Notification
from outages import services
from outages.models import Outage, OutageNotice
from reach.models import ReachRecord, State

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="batches run at once on PostgreSQL only"),
    pytest.mark.django_db(transaction=True),
]


def in_thread(function, errors):
    def run():
        try:
            function()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_restoration_waits_for_the_batches_under_way_then_withdraws_them_and_stops_the_rest(
    settings, grid, populate, fault, monkeypatch
):
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 5
    settings.OUTAGE_FAN_OUT_THREADS = 2
    populate(grid["d1"], 60, sensitive=60)  # no group: an SMS each
    outage = services.outage_publish(outage=fault())
    start = outage.notices.get(kind=OutageNotice.START)
    both_written = threading.Barrier(3, timeout=20)
    go = threading.Event()
    reach_batch = services.reach_batch

    def held_open(*args, **kwargs):
        result = reach_batch(*args, **kwargs)
        if not go.is_set():
            both_written.wait()  # the first two batches are written, not yet committed
            go.wait(20)
        return result

    monkeypatch.setattr(services, "reach_batch", held_open)
    errors = []
    fan_out = in_thread(services.fan_out_due, errors)
    both_written.wait()
    restoration = in_thread(lambda: services.outage_restore(outage=Outage.objects.get(pk=outage.pk)), errors)
    restoration.join(1)
    assert restoration.is_alive()  # waiting for the two batches under way
    go.set()
    fan_out.join(30)
    restoration.join(30)
    assert not errors and not fan_out.is_alive() and not restoration.is_alive()

    start.refresh_from_db()
    assert start.cancelled_at is not None and start.fanned_out_at is None
    rows = Notification.objects.filter(dedupe_key__startswith=start.dedupe_prefix)
    records = ReachRecord.objects.filter(notice__key=f"outage_notice:{start.pk}")
    # The two batches under way were written, then withdrawn with the rest of the notice;
    # no batch started after the restoration.
    assert rows.count() == records.count() == 10
    assert set(rows.values_list("status", flat=True)) == {Notification.Status.WITHDRAWN}
    assert set(records.values_list("state", flat=True)) == {State.CANCELLED}
    # The restoration notice is what remains to be sent.
    assert outage.notices.filter(kind=OutageNotice.RESTORED, cancelled_at__isnull=True).exists()


def test_without_a_restoration_every_batch_is_written_once(settings, grid, populate, fault):
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 5
    settings.OUTAGE_FAN_OUT_THREADS = 3
    customers = populate(grid["d1"], 47, sensitive=47)
    outage = services.outage_publish(outage=fault())
    assert services.fan_out_due() == 1
    start = outage.notices.get(kind=OutageNotice.START)
    records = ReachRecord.objects.filter(notice__key=f"outage_notice:{start.pk}")
    assert sorted(records.values_list("customer_id", flat=True)) == sorted(c.pk for c in customers)
    assert Notification.objects.filter(dedupe_key__startswith=start.dedupe_prefix).count() == 47
    start.refresh_from_db()
    assert start.fanned_out_at is not None and start.personal_count == 47
    assert services.fan_out_due() == 0
