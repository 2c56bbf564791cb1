"""Group health kept per group (GroupHealth): the same answers as the messages give, at any time."""

import random
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.aggregates import percentile
from groups import selectors
from groups.models import GroupHealth, GroupKind, GroupMessage, ServiceGroup
from groups.services.groups import group_create
from groups.services.members import membership_add_contact, membership_add_staff
from groups.services.messages import message_post, reply_post
from groups.services.summaries import group_health_refresh_stale
from tests.groups.conftest import local

NOW = local(2026, 11, 20, 15, 0)
FIGURES = (
    "inquiries_recent",
    "inquiries_decided",
    "answered_in_time",
    "median_response_seconds",
    "unanswered_now",
    "overdue_now",
    "owner_last_spoke_at",
    "silent_since",
    "in_time_share",
    "is_zombie",
)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent transactions (PostgreSQL)"
)


def figures(queryset, now) -> dict:
    return {row["pk"]: row for row in queryset.values("pk", *FIGURES)}


def assert_same_as_messages(now, *, fresh: bool | None = None) -> None:
    groups = ServiceGroup.objects.all()
    kept = selectors.with_health(groups, now)
    assert figures(kept, now) == figures(selectors.health_from_messages(groups, now), now)
    if fresh is not None:
        assert set(kept.values_list("health_fresh", flat=True)) == {fresh}


def random_history(seed, manager, colleague, make_customer) -> None:
    """A few groups with inquiries, replies (in time, late, never), the owner and a colleague
    speaking, over 50 days before NOW, written through the services at their own times."""
    rng = random.Random(seed)
    events = []
    for index in range(3):
        with time_machine.travel(NOW - timedelta(days=60), tick=False):
            group = group_create(by=manager, name=f"群{index}", kind=GroupKind.VIP, rules="x")
            membership_add_staff(group=group, user=colleague, by=colleague)
            contact = make_customer().contacts.get()
            membership_add_contact(group=group, contact=contact, by=manager)
        for _n in range(rng.randint(4, 12)):
            asked = NOW - timedelta(minutes=rng.randint(1, 50 * 24 * 60))
            events.append((asked, "ask", group, contact, rng.choice([None, 5, 25, 45, 600, 3000])))
        for _n in range(rng.randint(0, 4)):
            said = NOW - timedelta(minutes=rng.randint(1, 50 * 24 * 60))
            events.append((said, "say", group, rng.choice([manager, colleague]), None))
    answers = []
    for at, kind, group, who, delay in sorted(events, key=lambda e: e[0]):
        while answers and answers[0][0] <= at:
            answer_at, answer_group, inquiry = answers.pop(0)
            with time_machine.travel(answer_at, tick=False):
                reply_post(group=answer_group, by=manager, text="已处理。", inquiry=inquiry)
        with time_machine.travel(at, tick=False):
            if kind == "ask":
                inquiry, _created = message_post(group=group, contact=who, text="请问？", is_inquiry=True)
                if delay is not None and at + timedelta(minutes=delay) < NOW:
                    answers.append((at + timedelta(minutes=delay), group, inquiry))
                    answers.sort(key=lambda a: a[0])
            else:
                reply_post(group=group, by=who, text="大家好。")
    for answer_at, answer_group, inquiry in answers:
        with time_machine.travel(answer_at, tick=False):
            reply_post(group=answer_group, by=manager, text="已处理。", inquiry=inquiry)


@pytest.mark.parametrize("seed", range(6))
def test_kept_figures_equal_the_messages_figures_at_any_time(seed, manager, colleague, make_customer):
    random_history(seed, manager, colleague, make_customer)
    last_write = GroupHealth.objects.order_by("-computed_at").values_list("computed_at", flat=True).first()
    rng = random.Random(seed)
    moments = [last_write, NOW, NOW - timedelta(days=3), NOW + timedelta(minutes=35)]
    moments += [NOW + timedelta(minutes=rng.randint(0, 40 * 24 * 60)) for _n in range(4)]
    for now in moments:
        assert_same_as_messages(now)
        # Once the periodic refresh has run, every group reads its row, and still agrees.
        group_health_refresh_stale(now=now)
        assert_same_as_messages(now, fresh=True)


def test_the_figures_are_read_from_the_kept_rows_right_after_a_write(group, manager, ask):
    with time_machine.travel(NOW - timedelta(minutes=40), tick=False):
        ask()
    with time_machine.travel(NOW - timedelta(minutes=10), tick=False):
        reply_post(group=group, by=manager, text="已安排。")
    row = GroupHealth.objects.get(group=group)
    assert (row.unanswered_now, row.overdue_now, row.owner_last_spoke_at) == (
        1,
        1,
        NOW - timedelta(minutes=10),
    )
    assert_same_as_messages(NOW, fresh=True)


def test_a_deadline_passing_makes_the_row_inexact_and_the_list_reads_the_messages(group, manager, ask):
    with time_machine.travel(NOW - timedelta(minutes=10), tick=False):
        ask()
    assert_same_as_messages(NOW, fresh=True)
    later = NOW + timedelta(minutes=30)
    assert_same_as_messages(later, fresh=False)
    health = selectors.with_health(ServiceGroup.objects.filter(pk=group.pk), later).get()
    assert (health.overdue_now, health.is_zombie) == (1, True)
    assert group_health_refresh_stale(now=later) == 1
    assert_same_as_messages(later, fresh=True)
    assert group_health_refresh_stale(now=later) == 0


def test_a_new_owner_is_judged_by_their_own_words(group, manager, colleague, supervisor):
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        reply_post(group=group, by=manager, text="大家好。")
    ServiceGroup.objects.filter(pk=group.pk).update(owner=colleague)
    health = selectors.with_health(ServiceGroup.objects.filter(pk=group.pk), NOW).get()
    assert (health.health_fresh, health.owner_last_spoke_at) == (False, None)
    assert_same_as_messages(NOW)


def test_owner_health_takes_the_median_of_all_answers_not_of_group_medians(manager, make_customer):
    for index, delays in enumerate(((1, 2, 3), (100,))):
        group = group_create(by=manager, name=f"群{index}", kind=GroupKind.VIP, rules="x")
        contact = make_customer().contacts.get()
        membership_add_contact(group=group, contact=contact, by=manager)
        for minutes in delays:
            with time_machine.travel(NOW - timedelta(days=1), tick=False):
                inquiry, _created = message_post(group=group, contact=contact, text="请问？")
            with time_machine.travel(NOW - timedelta(days=1) + timedelta(minutes=minutes), tick=False):
                reply_post(group=group, by=manager, text="好。", inquiry=inquiry)
    expected = percentile([60, 120, 180, 6000], 0.5)
    for stale in (False, True):
        if stale:
            GroupHealth.objects.update(window_days=0)
        (row,) = selectors.owner_health(user=manager, now=NOW)
        assert (row.inquiries_recent, row.answered_in_time, row.median_response_seconds) == (4, 3, expected)


def test_the_supervisors_group_list_costs_the_same_queries_whatever_the_number_of_messages(
    login, supervisor, manager, make_customer, django_assert_max_num_queries
):
    group = group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    contact = make_customer().contacts.get()
    membership_add_contact(group=group, contact=contact, by=manager)
    client = login(supervisor)

    def add_and_count(n: int) -> int:
        for _n in range(n):
            inquiry, _created = message_post(group=group, contact=contact, text="请问？")
            reply_post(group=group, by=manager, text="好。", inquiry=inquiry)
        cache.clear()  # the owner table is computed, not read from the cache
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("groups:list")).status_code == 200
        return len(ctx.captured_queries)

    few, many = add_and_count(2), add_and_count(20)
    assert few == many
    # Session, user, unread count, unit; the page of groups; owners; owner figures and their users.
    cache.clear()
    with django_assert_max_num_queries(9):
        client.get(reverse("groups:list"))


def test_the_repair_command_rebuilds_lost_and_wrong_rows(group, manager, ask):
    asked = NOW - timedelta(hours=1)
    with time_machine.travel(asked, tick=False):
        ask()
        reply_post(group=group, by=manager, text="大家好。")
    GroupHealth.objects.filter(group=group).update(unanswered_now=7, median_response_seconds=1)
    soon = asked + timedelta(minutes=1)
    with time_machine.travel(soon, tick=False):
        health = selectors.with_health(ServiceGroup.objects.filter(pk=group.pk), soon).get()
        assert health.unanswered_now == 7  # what a corrupted row says, until repaired
        call_command("refresh_group_health")
        assert_same_as_messages(soon, fresh=True)
    GroupHealth.objects.all().delete()
    with time_machine.travel(soon, tick=False):
        assert_same_as_messages(soon, fresh=False)
        call_command("refresh_group_health", "--stale")
        assert_same_as_messages(soon, fresh=True)


def test_a_message_from_out_of_the_group_changes_no_row(group, manager, make_customer):
    outsider_contact = make_customer().contacts.get()
    before = list(GroupHealth.objects.values())
    with pytest.raises(ValidationError):
        message_post(group=group, contact=outsider_contact, text="请问？")
    assert list(GroupHealth.objects.values()) == before


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_replies_at_once_are_both_counted(group, manager, colleague, make_customer):
    membership_add_staff(group=group, user=colleague, by=colleague)
    contact = make_customer().contacts.get()
    membership_add_contact(group=group, contact=contact, by=manager)
    inquiries = [message_post(group=group, contact=contact, text=f"请问{n}？")[0] for n in range(2)]
    start = threading.Barrier(2)
    errors = []

    def answer(by, inquiry) -> None:
        try:
            start.wait(timeout=30)
            reply_post(group=group, by=by, text="已处理。", inquiry=inquiry)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=answer, args=pair)
        for pair in zip((manager, colleague), inquiries, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert GroupMessage.objects.filter(answered_at__isnull=False).count() == 2
    row = GroupHealth.objects.get(group=group)
    assert (row.unanswered_now, row.inquiries_decided, len(row.response_seconds)) == (0, 2, 2)


def test_the_data_migration_fills_the_rows_of_existing_groups(group, manager, ask):
    from importlib import import_module

    from django.apps import apps

    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        ask()
        reply_post(group=group, by=manager, text="大家好。")
    GroupHealth.objects.all().delete()
    with time_machine.travel(NOW - timedelta(minutes=59), tick=False):
        import_module("groups.migrations.0002_group_health").fill_group_health(apps, None)
        assert_same_as_messages(NOW - timedelta(minutes=59), fresh=True)


def test_owner_health_sums_kept_and_stale_rows_per_owner_in_three_queries(
    manager, colleague, supervisor, make_customer, django_assert_num_queries
):
    answers = {manager: ((1, 2), (7,)), colleague: ((5, 6, 9),)}
    for owner, groups in answers.items():
        for index, delays in enumerate(groups):
            group = group_create(by=owner, name=f"{owner.username}群{index}", kind=GroupKind.VIP, rules="x")
            contact = make_customer().contacts.get()
            membership_add_contact(group=group, contact=contact, by=owner)
            for minutes in delays:
                with time_machine.travel(NOW - timedelta(days=2), tick=False):
                    inquiry, _created = message_post(group=group, contact=contact, text="请问？")
                with time_machine.travel(NOW - timedelta(days=2) + timedelta(minutes=minutes), tick=False):
                    reply_post(group=group, by=owner, text="好。", inquiry=inquiry)
    # One of the manager's groups is read from its messages, the other from its kept row.
    GroupHealth.objects.filter(group__name=f"{manager.username}群1").update(window_days=0)
    # Whatever the number of groups: the user's units, the figures per owner, the owners.
    with django_assert_num_queries(3):
        rows = {row.owner: row for row in selectors.owner_health(user=supervisor, now=NOW)}
    last_reply = GroupMessage.objects.filter(sender_user__isnull=False).order_by("sent_at")
    for owner, groups in answers.items():
        delays = [minutes for group in groups for minutes in group]
        row = rows[owner]
        assert (row.groups, row.inquiries_recent, row.answered_in_time, row.unanswered_now) == (
            len(groups),
            len(delays),
            len(delays),
            0,
        )
        assert row.median_response_seconds == percentile([60 * m for m in delays], 0.5)
        assert row.last_spoke_at == last_reply.filter(sender_user=owner).last().sent_at
        assert row.silent_days == 1  # the last reply came minutes after two days ago
