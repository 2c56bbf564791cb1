"""Health figures and the zombie-group rule, computed in SQL."""

from datetime import timedelta

import pytest
import time_machine

from groups import selectors
from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from groups.services.members import membership_add_staff
from groups.services.messages import reply_post
from tests.groups.conftest import local

NOW = local(2026, 11, 20, 15, 0)


def health_of(group, now=NOW) -> ServiceGroup:
    health = selectors.with_health(ServiceGroup.objects.filter(pk=group.pk), now).get()
    # The dashboard counts zombies with the EXISTS form of the rule: every case
    # in this file holds it to the same answer.
    by_exists = ServiceGroup.objects.filter(pk=group.pk).filter(selectors.zombie_exists_q(now)).exists()
    assert by_exists == health.is_zombie
    return health


def say(group, user, at, text="各位好，本周六计划检修。"):
    with time_machine.travel(at, tick=False):
        return reply_post(group=group, by=user, text=text)


def test_an_unanswered_inquiry_past_its_deadline_makes_a_zombie_group(group, manager, ask):
    say(group, manager, NOW - timedelta(hours=2))
    with time_machine.travel(NOW - timedelta(minutes=40), tick=False):
        inquiry = ask()
    health = health_of(group)
    assert (health.unanswered_now, health.overdue_now) == (1, 1)
    assert health.is_zombie
    assert selectors.zombie_reasons(health, NOW) == ["1条咨询超时未回复"]

    reply_post(group=group, by=manager, text="已安排抢修。", inquiry=inquiry)
    health = health_of(group)
    assert (health.unanswered_now, health.overdue_now, health.is_zombie) == (0, 0, False)


def test_an_inquiry_still_within_its_deadline_is_not_yet_a_zombie(group, manager, ask):
    say(group, manager, NOW - timedelta(hours=2))
    with time_machine.travel(NOW - timedelta(minutes=20), tick=False):
        ask()
    health = health_of(group)
    assert (health.unanswered_now, health.overdue_now, health.is_zombie) == (1, 0, False)


def test_an_owner_silent_for_15_days_makes_a_zombie_group_but_13_days_does_not(manager, grid):
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        silent = group_create(
            by=manager, name="沉默群", kind=GroupKind.LINE, line=grid["line"], rules="文明发言。"
        )
        active = group_create(by=manager, name="活跃群", kind=GroupKind.VIP, rules="文明发言。")
    say(silent, manager, NOW - timedelta(days=15))
    say(active, manager, NOW - timedelta(days=13))

    assert health_of(silent).is_zombie
    assert selectors.zombie_reasons(health_of(silent), NOW) == ["负责人已15天未在群内发言"]
    assert not health_of(active).is_zombie
    assert health_of(active).owner_last_spoke_at == NOW - timedelta(days=13)


def test_a_new_group_counts_silence_from_its_creation(manager):
    with time_machine.travel(NOW - timedelta(days=15), tick=False):
        old = group_create(by=manager, name="旧群", kind=GroupKind.VIP, rules="文明发言。")
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        new = group_create(by=manager, name="新群", kind=GroupKind.VIP, rules="文明发言。")
    assert health_of(old).is_zombie
    assert health_of(old).owner_last_spoke_at is None
    assert not health_of(new).is_zombie


def test_someone_elses_words_do_not_count_as_the_owner_speaking(group, manager, colleague):
    membership_add_staff(group=group, user=colleague, by=colleague)
    ServiceGroup.objects.filter(pk=group.pk).update(created_at=NOW - timedelta(days=20))
    say(group, colleague, NOW - timedelta(days=1))
    assert health_of(group).is_zombie


def test_a_public_group_is_not_judged_by_its_members_silence(manager, ask):
    with time_machine.travel(NOW - timedelta(days=60), tick=False):
        public = group_create(
            by=manager,
            name="丹江镇便民服务群",
            kind=GroupKind.PUBLIC,
            host_organization="丹江镇政府",
            rules="x",
        )
    assert not health_of(public).is_zombie


def test_the_figures_count_the_last_30_days(group, manager, ask):
    say(group, manager, NOW - timedelta(days=1))
    # Answered in 10, 20 and 40 minutes (the last past its 30-minute deadline); one
    # from 40 days ago is outside the window; one waits now.
    for minutes, days_ago in ((10, 2), (20, 3), (40, 4), (5, 40)):
        asked = local(2026, 11, 20, 10, 0) - timedelta(days=days_ago)
        with time_machine.travel(asked, tick=False):
            inquiry = ask()
        with time_machine.travel(asked + timedelta(minutes=minutes), tick=False):
            reply_post(group=group, by=manager, text="已处理。", inquiry=inquiry)
    with time_machine.travel(NOW - timedelta(minutes=5), tick=False):
        ask()
    health = health_of(group)
    assert health.inquiries_recent == 4
    assert (health.inquiries_decided, health.answered_in_time) == (3, 2)
    assert health.in_time_share == pytest.approx(2 / 3)
    assert health.median_response_seconds == 20 * 60
    assert health.unanswered_now == 1


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two(group, manager, ask):
    say(group, manager, NOW - timedelta(days=1))
    for minutes in (10, 20, 30, 100):
        asked = NOW - timedelta(days=2)
        with time_machine.travel(asked, tick=False):
            inquiry = ask()
        with time_machine.travel(asked + timedelta(minutes=minutes), tick=False):
            reply_post(group=group, by=manager, text="已处理。", inquiry=inquiry)
    assert health_of(group).median_response_seconds == 25 * 60


def test_a_group_without_inquiries_has_no_share_and_no_median(group):
    health = health_of(group, now=group.created_at + timedelta(hours=1))
    assert (health.inquiries_recent, health.in_time_share, health.median_response_seconds) == (0, None, None)


def test_owner_health_sums_each_managers_groups(group, manager, colleague, supervisor, ask, grid):
    with time_machine.travel(NOW - timedelta(days=20), tick=False):
        silent = group_create(by=supervisor, owner=colleague, name="李四的群", kind=GroupKind.VIP, rules="x")
    say(group, manager, NOW - timedelta(hours=3))
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        inquiry = ask()
    with time_machine.travel(NOW - timedelta(hours=2) + timedelta(minutes=6), tick=False):
        reply_post(group=group, by=manager, text="好的。", inquiry=inquiry)
    rows = {row.owner.pk: row for row in selectors.owner_health(user=supervisor, now=NOW)}
    assert (rows[colleague.pk].groups, rows[colleague.pk].zombies) == (1, 1)
    assert rows[colleague.pk].silent_days is None
    mine = rows[manager.pk]
    assert (mine.groups, mine.zombies, mine.inquiries_recent, mine.unanswered_now) == (1, 0, 1, 0)
    assert mine.in_time_share == 1.0
    assert mine.median_response_seconds == 6 * 60
    assert silent.pk
