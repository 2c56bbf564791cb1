"""Falling back once: a group post not sent or late, a failed SMS; restoration withdraws."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notifications_claim_due, notifications_deliver_due, notifications_retry_now
from outages import services as outages
from outages.models import OutageNotice
from reach import services
from reach.models import CallState, Channel, ReachRecord, Reason, State


def start_records(outage):
    notice = outage.notices.get(kind="start")
    return ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}")


def test_a_group_post_not_sent_falls_back_to_sms_once(grid, populate, fault, district_group):
    populate(grid["d1"], 3)
    outage = outages.outage_publish(outage=fault())
    outages.fan_out_due()
    records = start_records(outage)
    assert set(records.values_list("channel", flat=True)) == {Channel.GROUP}
    broadcast_id = records.first().broadcast_id
    assert Notification.objects.filter(channel="sms").count() == 0
    changed = services.reach_group_post_state(
        broadcast_id=broadcast_id, group_id=district_group.pk, state="not_sent", reason="本月群发次数已用完"
    )
    assert changed == 3
    assert set(records.values_list("channel", "fallback_from", "reason")) == {
        (Channel.SMS, Channel.GROUP, Reason.GROUP_NOT_SENT)
    }
    assert Notification.objects.filter(channel="sms", dedupe_key__endswith=":fallback").count() == 3
    # Told again: nothing more.
    assert (
        services.reach_group_post_state(
            broadcast_id=broadcast_id, group_id=district_group.pk, state="not_sent"
        )
        == 0
    )
    assert services.reach_refresh() == 0
    assert Notification.objects.filter(channel="sms").count() == 3


def test_a_sent_group_post_reaches_its_customers(grid, populate, fault, district_group):
    populate(grid["d1"], 2)
    outage = outages.outage_publish(outage=fault())
    outages.fan_out_due()
    record = start_records(outage).first()
    services.reach_group_post_state(
        broadcast_id=record.broadcast_id, group_id=district_group.pk, state="sent"
    )
    assert set(start_records(outage).values_list("state", flat=True)) == {State.REACHED}


def test_a_bad_state_is_refused_and_changes_nothing(grid, populate, fault, district_group):
    import pytest
    from django.core.exceptions import ValidationError

    populate(grid["d1"], 1)
    outage = outages.outage_publish(outage=fault())
    outages.fan_out_due()
    record = start_records(outage).get()
    with pytest.raises(ValidationError):
        services.reach_group_post_state(
            broadcast_id=record.broadcast_id, group_id=district_group.pk, state="gone"
        )
    record.refresh_from_db()
    assert record.state == State.WAITING


def test_a_post_not_confirmed_in_time_falls_back(settings, grid, populate, fault, district_group):
    settings.REACH_GROUP_POST_DEADLINE_MINUTES = 30
    populate(grid["d1"], 2)
    outage = outages.outage_publish(outage=fault())
    outages.fan_out_due()
    assert services.reach_refresh() == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert services.reach_refresh() == 2
    assert set(start_records(outage).values_list("channel", "reason")) == {(Channel.SMS, Reason.GROUP_LATE)}


def test_a_failed_sms_falls_back_to_a_call_once(grid, populate, fault):
    customers = populate(grid["d2"], 2)
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    Notification.objects.filter(channel="sms").update(status=Notification.Status.SENT)
    services.reach_refresh()
    assert set(start_records(outage).values_list("state", flat=True)) == {State.SUBMITTED}
    Notification.objects.filter(address=f"139{customers[0].pk:08d}").update(status=Notification.Status.FAILED)
    assert services.reach_refresh() == 1
    record = start_records(outage).get(customer=customers[0])
    assert (record.channel, record.fallback_from, record.call_state) == (
        Channel.CALL,
        Channel.SMS,
        CallState.PENDING,
    )
    assert services.reach_refresh() == 0
    # The call fails too: it stays failed, counted as untold, no second fallback.
    services.reach_call_record(record=record, by=grid["d2"].manager, outcome="no_answer")
    assert services.reach_refresh() == 0
    record.refresh_from_db()
    assert (record.state, record.call_state) == (State.FAILED, CallState.NO_ANSWER)


def test_restoration_withdraws_the_unsent_start_notice_and_its_outbox_rows(grid, populate, fault):
    populate(grid["d2"], 3, sensitive=1)
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    start = outage.notices.get(kind=OutageNotice.START)
    pending = Notification.objects.filter(dedupe_key__startswith=start.dedupe_prefix)
    pending.filter(pk=pending.order_by("pk").first().pk).update(status=Notification.Status.SENT)
    outages.outage_update_estimate(outage=outage, estimated_restoration=timezone.now() + timedelta(hours=9))
    outages.outage_restore(outage=outage)
    assert outage.notices.get(kind="delay-1").cancelled_at is not None
    assert pending.filter(status=Notification.Status.PENDING).count() == 0
    assert pending.filter(status=Notification.Status.WITHDRAWN).count() == 2
    # Withdrawn is final: retry-now and the delivery worker leave it alone.
    assert notifications_retry_now(notifications=pending) == 0
    assert notifications_deliver_due().claimed == 0
    assert pending.filter(status=Notification.Status.WITHDRAWN).count() == 2
    assert start_records(outage).filter(state=State.CANCELLED).count() == 2
    assert outages.fan_out_due() == 1  # the restoration notice alone
    restored = outage.notices.get(kind=OutageNotice.RESTORED)
    assert (
        Notification.objects.filter(dedupe_key__startswith=restored.dedupe_prefix, status="pending").count()
        == 3
    )
    assert not Notification.objects.filter(dedupe_key__contains=":delay-1:").exists()


def test_restoration_withdraws_a_claimed_sms_but_not_one_already_being_sent(
    grid, populate, fault, login, manager
):
    customers = populate(grid["d2"], 3)
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    start = outage.notices.get(kind=OutageNotice.START)
    outbox = Notification.objects.filter(dedupe_key__startswith=start.dedupe_prefix).order_by("pk")
    # A worker holds all three; it has started sending the first one only.
    claim = notifications_claim_due()
    assert len(claim.rows) == 3
    in_flight = outbox.first()
    Notification.objects.filter(pk=in_flight.pk).update(send_started_at=timezone.now())

    outages.outage_restore(outage=outage)

    assert dict(outbox.values_list("pk", "status")) == {
        row.pk: Notification.Status.SENDING if row.pk == in_flight.pk else Notification.Status.WITHDRAWN
        for row in outbox
    }
    records = start_records(outage)
    assert records.get(notification=in_flight).state == State.QUEUED
    assert records.filter(state=State.CANCELLED).count() == 2
    # The one in flight went out: it follows its row; nothing withdrawn falls back.
    Notification.objects.filter(pk=in_flight.pk).update(status=Notification.Status.SENT, claim_token=None)
    assert services.reach_refresh() == 0
    assert records.get(notification=in_flight).state == State.SUBMITTED
    assert records.filter(state=State.CANCELLED).count() == 2
    assert len(customers) == 3
    # The notice plan counts them withdrawn, not failed.
    page = login(manager).get(f"/outages/{outage.pk}/")
    [start_row] = [n for n in page.context["notices"] if n.pk == start.pk]
    assert (start_row.sent, start_row.failed, start_row.withdrawn) == (1, 0, 2)
