"""Every branch of the channel policy, on one mixed district, through the real fan-out."""

import pytest

from customers.models import Contact, Customer
from notifications.models import Notification
from outages import services as outages
from reach.models import CallState, Channel, ReachRecord, Reason, State
from tests.factories import ContactFactory, CustomerFactory, UserFactory


def add(grid, district, *, kind=Customer.Kind.RESIDENT, contacts=(), **flags):
    customer = CustomerFactory(
        station=district.station,
        district=district,
        line=district.line,
        kind=kind,
        manager=district.manager,
        **flags,
    )
    for index, fields in enumerate(contacts):
        ContactFactory(customer=customer, is_primary=index == 0, **fields)
    return customer


def records(outage, kind="start"):
    notice = outage.notices.get(kind=kind)
    return {r.customer_id: r for r in ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}")}


@pytest.fixture
def mixed(grid, district_group, crm_only_group):
    d1, d2 = grid["d1"], grid["d2"]
    landline = {"mobile": "", "landline": "0855-8123456"}
    return {
        "in_group": add(grid, d1, contacts=[{}]),
        "sensitive_in_group": add(grid, d1, contacts=[{}], is_important=True),
        "crm_group_only": add(grid, d2, contacts=[{}]),
        "secondary_mobile_vip": add(grid, d2, contacts=[landline, {}], vip_tier=2),
        "sensitive_landline": add(grid, d2, contacts=[landline], is_sensitive=True),
        "high_sensitivity": add(grid, d2, contacts=[{}], is_high_sensitivity=True),
        "resident_landline": add(grid, d2, contacts=[landline]),
        "business_landline": add(grid, d2, kind=Customer.Kind.COMMERCIAL, contacts=[landline]),
        "no_contact": add(grid, d2, kind=Customer.Kind.COMMERCIAL),
        "two_mobiles": add(grid, d2, contacts=[{}, {}]),
    }


def test_each_customer_gets_the_channel_of_the_policy(grid, fault, mixed):
    outage = outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    assert outages.fan_out_due() == 1
    got = records(outage)
    assert len(got) == len(mixed) == outage.affected.count()

    def of(name):
        return got[mixed[name].pk]

    assert (of("in_group").channel, of("in_group").reason) == (Channel.GROUP, Reason.GROUP_AREA)
    assert of("in_group").state == State.WAITING and of("in_group").notification_id is None
    # Sensitive: always personal, even where a group reaches the district.
    assert (of("sensitive_in_group").channel, of("sensitive_in_group").reason) == (
        Channel.SMS,
        Reason.SENSITIVE_PERSONAL,
    )
    # A group kept only in the CRM reaches nobody.
    assert (of("crm_group_only").channel, of("crm_group_only").reason) == (Channel.SMS, Reason.NO_GROUP)
    # Any contact with a mobile, not only the primary one.
    vip = of("secondary_mobile_vip")
    assert vip.channel == Channel.SMS and vip.contact.is_primary is False
    assert vip.notification.address == vip.contact.mobile
    sensitive_landline = of("sensitive_landline")
    assert (sensitive_landline.channel, sensitive_landline.call_state) == (Channel.CALL, CallState.PENDING)
    assert sensitive_landline.call_assignee == grid["d2"].manager
    # 高敏 on a fault outage: the SMS and a phone call beside it.
    high = of("high_sensitivity")
    assert (high.channel, high.call_state) == (Channel.SMS, CallState.PENDING)
    assert (of("resident_landline").channel, of("resident_landline").reason) == (
        Channel.CALL,
        Reason.NO_MOBILE_RESIDENT,
    )
    assert (of("business_landline").channel, of("business_landline").reason) == (
        Channel.NONE,
        Reason.NO_CHANNEL,
    )
    assert (of("no_contact").channel, of("no_contact").reason) == (Channel.NONE, Reason.NO_CONTACT)
    two = mixed["two_mobiles"]
    assert Notification.objects.filter(dedupe_key__endswith=f":customer:{two.pk}").count() == 1


def test_a_planned_outage_phones_no_one_extra(grid, planned, mixed):
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() + timedelta(hours=10)
    outage = planned(
        districts=[grid["d2"]], lines=[], planned_start=start, planned_end=start + timedelta(hours=4)
    )
    outage = outages.outage_publish(outage=outage)
    outages.fan_out_due()
    notice = outage.notices.get(kind="advance-1d")
    # Published late: the label says how far ahead it really goes out.
    assert notice.kind_label == "提前通知（计划停电前 10 小时）"
    high = records(outage, "advance-1d")[mixed["high_sensitivity"].pk]
    assert (high.channel, high.call_state) == (Channel.SMS, CallState.NONE)


def test_wecom_one_to_one_when_no_mobile_but_an_external_contact_of_the_manager(
    grid, fault, district_group, wecom_sandbox
):
    manager = grid["d2"].manager
    type(manager).objects.filter(pk=manager.pk).update(wecom_userid="zhangsan")
    customer = add(
        grid, grid["d2"], kind=Customer.Kind.COMMERCIAL, contacts=[{"mobile": "", "landline": "0855-8123457"}]
    )
    Contact.objects.filter(customer=customer).update(wecom_external_userid="wmAbc")
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    record = records(outage)[customer.pk]
    assert (record.channel, record.state, record.reason) == (
        Channel.WECOM,
        State.WAITING,
        Reason.WECOM_CONTACT,
    )


def test_a_worker_killed_mid_fan_out_writes_every_record_and_sms_once(grid, populate, fault, settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone, translation

    settings.OUTAGE_NOTICE_LEASE_SECONDS = 60
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 1000
    populate(grid["d2"], 2500, sensitive=10)
    outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    notice, _token = outages._claim_next(timezone.now())
    with translation.override("zh-hans"):
        outages._broadcast(notice)
        reach_notice = outages.reach_notice_for(notice)
    last, written = outages.reach_batch(notice, reach_notice=reach_notice, posts=outages.notice_posts(notice))
    assert written == 1000
    # Killed here; the next worker takes over after the lease and repeats from the start.
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert outages.fan_out_due() == 1
    assert ReachRecord.objects.filter(notice=reach_notice).count() == 2500
    sms = Notification.objects.filter(dedupe_key__startswith=notice.dedupe_prefix)
    assert sms.count() == 2500 and sms.values("address").distinct().count() == 2500


def test_an_unknown_colleague_is_not_the_caller(grid, fault):
    other = UserFactory(org_unit=grid["d2"].station)
    customer = add(grid, grid["d2"], contacts=[{"mobile": "", "landline": "0855-8123458"}])
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    assert records(outage)[customer.pk].call_assignee not in (None, other)
