"""notification_enqueue and notifications_enqueue_many: rows in the caller's transaction, once per key."""

from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from notifications import services
from notifications.models import Notification, NotificationQuerySet
from notifications.services import NotificationDraft, notification_enqueue, notifications_enqueue_many
from tests.factories import CustomerFactory


def test_it_writes_a_pending_row_due_now(manager):
    notification = notification_enqueue(
        dedupe_key="ticket:1:overdue:1", subject="工单即将超时", body="请尽快处理。", recipient=manager
    )

    row = Notification.objects.get()
    assert notification == row
    assert row.status == Notification.Status.PENDING
    assert row.channel == Notification.Channel.IN_APP
    assert row.recipient == manager
    assert row.next_attempt_at <= timezone.now()


def test_a_second_enqueue_of_the_same_key_is_a_no_op(manager, colleague):
    first = notification_enqueue(dedupe_key="ticket:1:overdue:1", subject="第一次", recipient=manager)

    again = notification_enqueue(dedupe_key="ticket:1:overdue:1", subject="第二次", recipient=colleague)

    assert first is not None
    assert again is None
    assert list(Notification.objects.values_list("subject", "recipient")) == [("第一次", manager.pk)]


def test_a_duplicate_does_not_break_the_callers_transaction(manager, org_tree, monkeypatch):
    notification_enqueue(dedupe_key="dup", subject="已有", recipient=manager)
    # Lose the race: the lookup misses the row a concurrent writer committed,
    # so the INSERT itself hits the unique constraint.
    real_get = NotificationQuerySet.get
    misses = iter([True])

    def racing_get(self, *args, **kwargs):
        if next(misses, False):
            raise Notification.DoesNotExist
        return real_get(self, *args, **kwargs)

    monkeypatch.setattr(NotificationQuerySet, "get", racing_get)

    with transaction.atomic():
        assert notification_enqueue(dedupe_key="dup", subject="重复", recipient=manager) is None
        # The transaction is still usable: on PostgreSQL an unguarded
        # IntegrityError would have aborted it.
        CustomerFactory(station=org_tree["station"], manager=manager)

    assert Customer.objects.count() == 1
    assert Notification.objects.count() == 1


def test_the_row_rolls_back_with_the_business_write(
    manager, org_tree, django_capture_on_commit_callbacks, kicks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        CustomerFactory(station=org_tree["station"], manager=manager)
        notification_enqueue(dedupe_key="customer:new", subject="新建档案", recipient=manager)
        raise RuntimeError("the business write fails")

    assert not Notification.objects.exists()
    assert not Customer.objects.exists()
    assert kicks == []


def test_delivery_is_kicked_once_after_commit(manager, django_capture_on_commit_callbacks, kicks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        notification_enqueue(dedupe_key="a", subject="提醒", recipient=manager)
        assert kicks == []  # not before the commit

    assert len(callbacks) == 1
    assert kicks == ["kick"]


def test_a_duplicate_or_a_scheduled_row_kicks_nothing(manager, django_capture_on_commit_callbacks, kicks):
    notification_enqueue(dedupe_key="a", subject="提醒", recipient=manager)

    with django_capture_on_commit_callbacks(execute=True):
        notification_enqueue(dedupe_key="a", subject="提醒", recipient=manager)
        notification_enqueue(
            dedupe_key="later",
            subject="明天的提醒",
            recipient=manager,
            send_at=timezone.now() + timedelta(days=1),
        )

    assert kicks == []
    assert not Notification.objects.due().filter(dedupe_key="later").exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dedupe_key": "", "subject": "x"},
        {"dedupe_key": "k", "subject": ""},
        {"dedupe_key": "k", "subject": "x", "channel": "fax"},
        {"dedupe_key": "k", "subject": "x", "channel": Notification.Channel.SMS},
        {"dedupe_key": "k" * 201, "subject": "x"},
        {"dedupe_key": "k", "subject": "x", "channel": "wecom", "send_at": datetime(2026, 11, 23, 8, 30)},
    ],
)
def test_it_refuses_a_bad_draft_and_writes_nothing(db, kwargs):
    with pytest.raises(ValueError):
        notification_enqueue(**kwargs)

    assert not Notification.objects.exists()


def test_an_over_long_subject_is_shortened_not_refused(manager):
    row = notification_enqueue(dedupe_key="long", subject="长" * 300, recipient=manager)

    row.refresh_from_db()
    assert len(row.subject) == 200
    assert row.subject.endswith("…")


def test_enqueue_many_inserts_new_rows_and_skips_known_keys(manager, colleague):
    notification_enqueue(dedupe_key="k1", subject="已有", recipient=manager)

    created = notifications_enqueue_many(
        [
            NotificationDraft(dedupe_key="k1", subject="重复", recipient_id=manager.pk),
            NotificationDraft(dedupe_key="k2", subject="新的", recipient_id=manager.pk),
            {"dedupe_key": "k3", "subject": "新的", "recipient": colleague},
            {"dedupe_key": "k3", "subject": "列表内重复", "recipient": colleague},
            NotificationDraft(
                dedupe_key="k4",
                subject="群消息",
                channel=Notification.Channel.WECOM,
                address="http://127.0.0.1:9/hook",
            ),
        ]
    )

    assert created == 3
    assert dict(Notification.objects.values_list("dedupe_key", "subject")) == {
        "k1": "已有",
        "k2": "新的",
        "k3": "新的",
        "k4": "群消息",
    }
    assert notifications_enqueue_many([{"dedupe_key": "k2", "subject": "再来", "recipient": manager}]) == 0


def test_enqueue_many_runs_a_fixed_number_of_queries_per_batch(
    manager, monkeypatch, django_assert_max_num_queries
):
    # 30 rows keep one INSERT per batch under SQLite's 999 bound variables.
    monkeypatch.setattr(services, "ENQUEUE_BATCH_SIZE", 30)
    drafts = [
        NotificationDraft(dedupe_key=f"fan:{i}", subject="停电通知", recipient_id=manager.pk)
        for i in range(120)
    ]

    # four batches: a SELECT of known keys and one INSERT each, plus savepoints
    with django_assert_max_num_queries(4 * 2 + 2):
        assert notifications_enqueue_many(drafts) == 120

    assert Notification.objects.count() == 120


def test_enqueue_many_kicks_once_after_commit(manager, django_capture_on_commit_callbacks, kicks):
    with django_capture_on_commit_callbacks(execute=True):
        notifications_enqueue_many(
            [
                NotificationDraft(dedupe_key=f"fan:{i}", subject="通知", recipient_id=manager.pk)
                for i in range(5)
            ]
        )

    assert kicks == ["kick"]
