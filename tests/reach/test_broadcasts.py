"""Important customers of a broadcast: a reach record each, a call when no message could go."""

from customers.models import Customer
from groups.models import BroadcastTopic
from groups.services.broadcasts import broadcast_create
from groups.services.members import group_add_district_customers
from reach.models import CallState, Channel, ReachRecord, Reason, State
from reach.services import reach_broadcasts_adopt, reach_refresh
from tests.factories import ContactFactory, CustomerFactory


def test_important_customers_of_a_broadcast_are_each_accounted_for_once(manager, grid, district_group):
    district = grid["d1"]

    def customer(contacts, **flags):
        made = CustomerFactory(
            station=district.station, district=district, line=district.line, manager=manager, **flags
        )
        for index, fields in enumerate(contacts):
            ContactFactory(customer=made, is_primary=index == 0, **fields)
        return made

    texted = customer([{}], vip_tier=1)
    landline = customer([{"mobile": "", "landline": "0855-8123459"}], is_important=True)
    ordinary = customer([{}])
    assert ordinary.kind == Customer.Kind.RESIDENT
    group_add_district_customers(group=district_group, by=manager)
    broadcast = broadcast_create(
        by=manager,
        topic=BroadcastTopic.OUTAGE,
        title="夏季用电安全",
        body="请注意用电安全。",
        groups=[district_group],
    )
    # Written as the broadcast is published (groups.signals.broadcast_published), not by the beat.
    records = {r.customer_id: r for r in ReachRecord.objects.filter(notice__key=f"broadcast:{broadcast.pk}")}
    assert set(records) == {texted.pk, landline.pk}
    assert reach_broadcasts_adopt() == 0
    reach_refresh()
    records = {r.customer_id: r for r in ReachRecord.objects.filter(notice__key=f"broadcast:{broadcast.pk}")}
    assert set(records) == {texted.pk, landline.pk}
    sms = records[texted.pk]
    assert (sms.channel, sms.state, sms.notification.dedupe_key.startswith(f"broadcast:{broadcast.pk}:")) == (
        Channel.SMS,
        State.QUEUED,
        True,
    )
    call = records[landline.pk]
    assert (call.channel, call.reason, call.call_state) == (
        Channel.CALL,
        Reason.NO_MOBILE_SENSITIVE,
        CallState.PENDING,
    )


def test_the_beat_still_adopts_a_broadcast_whose_signal_was_missed(manager, grid, district_group):
    from groups.signals import broadcast_published
    from reach.apps import _adopt_broadcast

    district = grid["d1"]
    vip = CustomerFactory(
        station=district.station, district=district, line=district.line, manager=manager, vip_tier=1
    )
    ContactFactory(customer=vip, is_primary=True)
    group_add_district_customers(group=district_group, by=manager)
    broadcast_published.disconnect(dispatch_uid="reach.adopt_broadcast")
    try:
        broadcast = broadcast_create(
            by=manager,
            topic=BroadcastTopic.OUTAGE,
            title="夏季用电安全",
            body="请注意。",
            groups=[district_group],
        )
    finally:
        broadcast_published.connect(_adopt_broadcast, dispatch_uid="reach.adopt_broadcast")
    records = ReachRecord.objects.filter(notice__key=f"broadcast:{broadcast.pk}")
    assert not records.exists()

    assert reach_broadcasts_adopt() == 1
    assert list(records.values_list("customer_id", "channel")) == [(vip.pk, Channel.SMS)]
