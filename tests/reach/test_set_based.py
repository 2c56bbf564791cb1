"""The fan-out decides the group-covered and plain-SMS customers in the database: the
records and outbox rows it writes are those `policy.choose` gives, customer by customer."""

import threading

import pytest
from django.db import connection
from django.utils import translation

from customers.models import Contact, Customer
from groups.models import GroupKind, Membership, ServiceGroup
from groups.services.groups import group_create
from notifications.models import Notification
from outages import services as outages
from outages.models import OutageNotice
from reach import one_to_one, policy
from reach.models import CallState, Channel, ReachNotice, ReachRecord, Reason
from reach.services import _outbox_draft
from tests.reach.test_policy import add, mixed  # noqa: F401


@pytest.fixture
def line_group(manager, grid):
    """The 线路群 of the other line, linked to WeCom: it covers d3 by line."""
    group = group_create(
        by=manager, name="丹江线服务群", kind=GroupKind.LINE, line=grid["other_line"], rules="文明发言。"
    )
    ServiceGroup.objects.filter(pk=group.pk).update(external_id="wrOgQhDgAAl2")
    return group


@pytest.fixture
def more(grid, mixed, district_group, line_group):  # noqa: F811
    d2, d3 = grid["d2"], grid["d3"]
    # In d2 (no linked group), but their second contact is in d1's linked group.
    member = add(grid, d2, contacts=[{}, {}])
    Membership.objects.create(group=district_group, contact=member.contacts.order_by("id").last())
    # A member who is sensitive still gets a personal channel.
    sensitive_member = add(grid, d2, contacts=[{}], is_special=True)
    Membership.objects.create(group=district_group, contact=sensitive_member.contacts.get())
    return {
        **mixed,
        "member": member,
        "sensitive_member": sensitive_member,
        "by_line": add(grid, d3, contacts=[{}]),
        "prefers_email": add(
            grid, d2, contacts=[{"email": "li@example.com", "preferred_channel": Contact.Channel.EMAIL}]
        ),
        "wecom_contact": add(grid, d2, contacts=[{"wecom_external_userid": "wmAbc"}]),
        "primary_landline_second_mobile": add(
            grid, d2, contacts=[{"mobile": "", "landline": "0855-8123457"}, {}]
        ),
        "deleted": add(grid, d2, contacts=[{}]),
    }


def test_the_set_based_fan_out_writes_what_choose_decides(grid, fault, more):
    written_as_choose_decides(grid, fault, more)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="batches run at once on PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_batches_written_at_once_on_several_connections_write_what_choose_decides(
    settings, grid, fault, more, monkeypatch
):
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 2
    settings.OUTAGE_FAN_OUT_THREADS = 3
    threads = set()
    reach_batch = outages.reach_batch

    def batch_here(*args, **kwargs):
        threads.add(threading.get_ident())
        return reach_batch(*args, **kwargs)

    monkeypatch.setattr(outages, "reach_batch", batch_here)
    written_as_choose_decides(grid, fault, more)
    assert len(threads) >= 2 and threading.get_ident() not in threads


def written_as_choose_decides(grid, fault, more):
    outage = outages.outage_publish(
        outage=fault(districts=[grid["d1"], grid["d2"]], lines=[grid["other_line"]])
    )
    # Deleted from the archive after the outage froze it: still told, as `choose` would.
    Customer.all_objects.filter(pk=more["deleted"].pk).update(deleted_at=outages.timezone.now())
    assert outages.fan_out_due() == 1
    notice = outage.notices.get(kind=OutageNotice.START)
    reach_notice = ReachNotice.objects.get(key=f"outage_notice:{notice.pk}")
    got = {record.customer_id: record for record in ReachRecord.objects.filter(notice=reach_notice)}
    assert set(got) == {customer.pk for customer in more.values()}

    posts = outages.notice_posts(notice)
    ids = sorted(got)
    customers, contacts = policy.customer_rows(ids), policy.contact_rows(ids)
    members = policy.member_groups(
        [c["id"] for rows in contacts.values() for c in rows], list(posts.broadcasts)
    )
    outbox = {
        row.dedupe_key: row
        for row in Notification.objects.filter(dedupe_key__startswith=notice.dedupe_prefix)
    }
    for name, customer in more.items():
        want = policy.choose(
            customers[customer.pk],
            contacts.get(customer.pk, []),
            posts=posts,
            members=members,
            urgent=reach_notice.urgent,
            wecom=one_to_one.wecom_ready(),
        )
        record = got[customer.pk]
        assert (
            record.channel,
            record.reason,
            record.state,
            record.contact_id,
            record.group_id,
            record.broadcast_id,
            record.call_state,
            record.call_assignee_id,
            record.station_id,
        ) == (
            want.channel,
            want.reason,
            want.state,
            want.contact["id"] if want.contact else None,
            want.group_id,
            want.broadcast_id,
            want.call_state,
            want.call_assignee_id,
            customer.station_id,
        ), name
        draft = _outbox_draft(reach_notice, want, customer.pk, fallback=False)
        if draft is None:
            assert record.notification_id is None, name
            continue
        row = outbox[draft.dedupe_key]
        assert record.notification_id == row.pk, name
        assert (row.channel, row.address, row.recipient_label, row.subject, row.status) == (
            draft.channel,
            draft.address,
            draft.recipient_label,
            draft.subject,
            Notification.Status.PENDING,
        ), name
        assert (row.template_kind, row.template_params) == (draft.template_kind, draft.template_params or {})
    # The branches the database decides are all there.
    assert got[more["member"].pk].reason == Reason.GROUP_MEMBER
    assert got[more["member"].pk].group_id == more["member"].contacts.last().group_memberships.get().group_id
    assert got[more["by_line"].pk].reason == Reason.GROUP_AREA
    assert got[more["primary_landline_second_mobile"].pk].channel == Channel.SMS
    assert got[more["sensitive_member"].pk].channel != Channel.GROUP
    high = got[more["high_sensitivity"].pk]
    assert (high.channel, high.reason, high.call_state) == (
        Channel.SMS,
        Reason.SENSITIVE_PERSONAL,
        CallState.PENDING,
    )
    assert high.call_assignee_id is not None
    assert outbox.keys() == {
        f"{notice.dedupe_prefix}customer:{pk}" for pk, r in got.items() if r.notification_id
    }


def test_choose_runs_only_for_the_customers_the_database_does_not_decide(
    grid, fault, populate, district_group, monkeypatch
):
    populate(grid["d1"], 30)
    populate(grid["d2"], 20, sensitive=3)
    landline = add(grid, grid["d2"], contacts=[{"mobile": "", "landline": "0855-8123459"}])
    calls = []
    choose = policy.choose
    monkeypatch.setattr(
        policy, "choose", lambda customer, *a, **k: calls.append(customer["pk"]) or choose(customer, *a, **k)
    )
    outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    assert outages.fan_out_due() == 1
    # The 30 covered by the group, the 17 plain SMS and the 3 VIPs' SMS are decided
    # set-based: the customer without a mobile is left.
    assert calls == [landline.pk]
    assert ReachRecord.objects.count() == 51


def test_a_repeated_batch_adds_nothing(grid, fault, populate, district_group):
    populate(grid["d1"], 30)
    populate(grid["d2"], 20, sensitive=3)
    outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    notice, _token = outages._claim_next(outages.timezone.now())
    with translation.override("zh-hans"):
        outages._broadcast(notice)
        reach_notice = outages.reach_notice_for(notice)
    posts = outages.notice_posts(notice)
    assert outages.reach_batch(notice, reach_notice=reach_notice, posts=posts)[1] == 50
    sms = Notification.objects.filter(dedupe_key__startswith=notice.dedupe_prefix)
    assert sms.count() == 20
    # A worker that lost its lease repeats the batch: nothing new, nothing changed.
    assert outages.reach_batch(notice, reach_notice=reach_notice, posts=posts)[1] == 0
    assert ReachRecord.objects.filter(notice=reach_notice).count() == 50 and sms.count() == 20
    assert ReachRecord.objects.filter(notice=reach_notice, channel=Channel.GROUP).count() == 30
