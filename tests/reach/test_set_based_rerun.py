"""A batch repeated after a partial write (some records there, some outbox rows there without
their record) writes what `policy.choose` decides, once: on PostgreSQL through the
one-statement path, elsewhere through the portable one."""

from django.db import connection
from django.utils import timezone, translation

from notifications.models import Notification
from notifications.services import notifications_enqueue_many
from outages import services as outages
from reach import one_to_one, policy
from reach import services as reach
from reach.models import Channel, ReachRecord, Reason
from tests.reach.test_policy import add, mixed  # noqa: F401
from tests.reach.test_set_based import line_group, more  # noqa: F401


def decisions(reach_notice, posts, customer_ids):
    customers, contacts = policy.customer_rows(customer_ids), policy.contact_rows(customer_ids)
    members = policy.member_groups(
        [c["id"] for rows in contacts.values() for c in rows], list(posts.broadcasts)
    )
    return {
        pk: policy.choose(
            customers[pk],
            contacts.get(pk, []),
            posts=posts,
            members=members,
            urgent=reach_notice.urgent,
            wecom=one_to_one.wecom_ready(),
        )
        for pk in customer_ids
    }


def test_a_batch_repeated_after_a_partial_write_writes_what_choose_decides_once(
    grid,
    fault,
    more,  # noqa: F811
    monkeypatch,
):
    one_statement = []
    set_based = reach._insert_set_based
    monkeypatch.setattr(
        reach, "_insert_set_based", lambda *a, **k: one_statement.append(1) or set_based(*a, **k)
    )
    outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]], lines=[grid["other_line"]]))
    notice, _token = outages._claim_next(timezone.now())
    with translation.override("zh-hans"):
        outages._broadcast(notice)
        reach_notice = outages.reach_notice_for(notice)
    posts = outages.notice_posts(notice)
    ids = sorted(customer.pk for customer in more.values())
    want = decisions(reach_notice, posts, ids)
    customers = policy.customer_rows(ids)

    # What a worker killed mid-batch left: a record here and there, outbox rows without their record.
    def draft(name):
        pk = more[name].pk
        return reach._outbox_draft(reach_notice, want[pk], pk, fallback=False)

    def record(name, notification=None):
        pk = more[name].pk
        ReachRecord.objects.create(
            notice=reach_notice,
            customer_id=pk,
            station_id=customers[pk]["station_id"],
            notification=notification,
            **reach._record_fields(want[pk], timezone.now()),
        )

    assert want[more["two_mobiles"].pk].reason == Reason.NO_GROUP
    assert want[more["sensitive_in_group"].pk].reason == Reason.SENSITIVE_PERSONAL
    notifications_enqueue_many(
        [
            draft("two_mobiles"),
            draft("crm_group_only"),
            draft("sensitive_in_group"),
            draft("high_sensitivity"),
        ]
    )
    outbox = Notification.objects.filter(dedupe_key__startswith=notice.dedupe_prefix)
    left_behind = dict(outbox.values_list("dedupe_key", "pk"))
    record("in_group")
    record("by_line")
    record("crm_group_only", outbox.get(dedupe_key=draft("crm_group_only").dedupe_key))

    assert outages.reach_batch(notice, reach_notice=reach_notice, posts=posts)[1] == len(ids) - 3
    assert bool(one_statement) == (connection.vendor == "postgresql")

    got = {r.customer_id: r for r in ReachRecord.objects.filter(notice=reach_notice)}
    assert sorted(got) == ids
    rows = {row.dedupe_key: row for row in outbox}
    for name, customer in more.items():
        choice, row = want[customer.pk], got[customer.pk]
        assert (
            row.channel,
            row.reason,
            row.state,
            row.contact_id,
            row.group_id,
            row.broadcast_id,
            row.call_state,
            row.call_assignee_id,
            row.station_id,
        ) == (
            choice.channel,
            choice.reason,
            choice.state,
            choice.contact["id"] if choice.contact else None,
            choice.group_id,
            choice.broadcast_id,
            choice.call_state,
            choice.call_assignee_id,
            customer.station_id,
        ), name
        expected = reach._outbox_draft(reach_notice, choice, customer.pk, fallback=False)
        if expected is None:
            assert row.notification_id is None, name
            continue
        sent = rows[expected.dedupe_key]
        assert row.notification_id == sent.pk, name
        assert (sent.channel, sent.address, sent.recipient_label, sent.subject) == (
            expected.channel,
            expected.address,
            expected.recipient_label,
            expected.subject,
        ), name
    # The rows left behind are the ones the records ride on, not twins.
    for key, pk in left_behind.items():
        assert rows[key].pk == pk
    assert set(rows) == {
        reach._outbox_key(reach_notice, pk)
        for pk, r in got.items()
        if r.channel in (Channel.SMS, Channel.EMAIL)
    }

    # Once more: nothing new.
    assert outages.reach_batch(notice, reach_notice=reach_notice, posts=posts)[1] == 0
    assert ReachRecord.objects.filter(notice=reach_notice).count() == len(ids)
    assert outbox.count() == len(rows)
