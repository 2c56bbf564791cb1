"""Claiming due rows: leases, claim tokens, and workers side by side."""

import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from notifications.models import Notification, NotificationQuerySet
from notifications.services import notification_deliver, notification_enqueue, notifications_claim_due
from notifications.tasks import deliver_due_notifications
from tests.factories import NotificationFactory

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: row locks and threads with their own connections to the test database",
)


def test_a_claim_marks_rows_sending_under_a_fresh_token_and_lease(manager, settings):
    settings.NOTIFICATIONS_LEASE_SECONDS = 300
    rows = [NotificationFactory(recipient=manager) for _ in range(3)]

    claim = notifications_claim_due(batch_size=2)

    assert [row.pk for row in claim.rows] == [rows[0].pk, rows[1].pk]
    assert {row.status for row in claim.rows} == {Notification.Status.SENDING}
    assert {row.claim_token for row in claim.rows} == {claim.token}
    assert claim.lease_expires_at - timezone.now() <= timedelta(seconds=300)
    assert notifications_claim_due(batch_size=10).rows == [rows[2]]
    assert notifications_claim_due(batch_size=10).rows == []


def test_the_claim_rechecks_that_rows_are_still_due(manager, monkeypatch):
    """Where the row lock is a no-op (SQLite), the UPDATE alone keeps two workers apart."""
    first, second = NotificationFactory(recipient=manager), NotificationFactory(recipient=manager)
    other_worker = notifications_claim_due(batch_size=1)
    # This worker's SELECT ran before the other worker's UPDATE: it still sees both rows.
    monkeypatch.setattr(
        NotificationQuerySet,
        "select_for_update",
        lambda self, **kwargs: Notification.objects.filter(pk__in=[first.pk, second.pk]),
    )

    claim = notifications_claim_due()

    assert [row.pk for row in claim.rows] == [second.pk]
    first.refresh_from_db()
    assert first.claim_token == other_worker.token


def test_a_row_held_under_a_live_lease_is_not_claimed_again(manager):
    NotificationFactory(recipient=manager)
    notifications_claim_due()

    assert notifications_claim_due().rows == []
    assert deliver_due_notifications()["claimed"] == 0


def test_an_expired_lease_is_claimed_again(manager, settings, http_endpoint):
    """A worker died mid-send: its row goes out once its lease has run out."""
    settings.NOTIFICATIONS_LEASE_SECONDS = 300
    notification_enqueue(
        dedupe_key="w", subject="提醒", channel=Notification.Channel.WECOM, address=http_endpoint.url("/w")
    )
    with time_machine.travel(timezone.now(), tick=False) as clock:
        dead_worker = notifications_claim_due()
        assert len(dead_worker.rows) == 1

        clock.shift(timedelta(seconds=299))
        assert deliver_due_notifications()["claimed"] == 0

        clock.shift(timedelta(seconds=2))
        report = deliver_due_notifications()

    assert (report["claimed"], report["sent"]) == (1, 1)
    assert Notification.objects.get().status == Notification.Status.SENT
    assert len(http_endpoint.requests) == 1


def test_a_worker_whose_lease_ran_out_cannot_overwrite_a_newer_claim(manager, settings, http_endpoint):
    settings.NOTIFICATIONS_LEASE_SECONDS = 60
    http_endpoint.default_response = (500, {})
    notification_enqueue(
        dedupe_key="w", subject="提醒", channel=Notification.Channel.WECOM, address=http_endpoint.url("/w")
    )
    with time_machine.travel(timezone.now(), tick=False) as clock:
        slow = notifications_claim_due()
        clock.shift(timedelta(seconds=61))
        fresh = notifications_claim_due()

        assert fresh.rows[0].pk == slow.rows[0].pk
        assert notification_deliver(notification=slow.rows[0], claim_token=slow.token) is None
        row = Notification.objects.get()
        assert (row.status, row.claim_token, row.attempts) == (Notification.Status.SENDING, fresh.token, 0)

        assert notification_deliver(notification=fresh.rows[0], claim_token=fresh.token) == "pending"

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Notification.Status.PENDING, 1)


def test_a_row_is_not_sent_when_its_lease_is_about_to_run_out(manager, settings, http_endpoint, monkeypatch):
    """A slow batch gives its remaining rows back rather than racing a worker that re-claims them."""
    settings.NOTIFICATIONS_LEASE_SECONDS = 60
    settings.OUTBOUND_HTTP_TIMEOUT = 10
    for i in range(3):
        notification_enqueue(
            dedupe_key=f"w{i}",
            subject="提醒",
            channel=Notification.Channel.WECOM,
            address=http_endpoint.url("/w"),
        )
    with time_machine.travel(timezone.now(), tick=False) as clock:
        from notifications import backends

        real_send = backends.WeComWebhookBackend.send

        def slow_send(self, notification):
            real_send(self, notification)
            clock.shift(timedelta(seconds=30))

        monkeypatch.setattr(backends.WeComWebhookBackend, "send", slow_send)
        report = deliver_due_notifications()

    assert (report["sent"], report["released"], report["more_due"]) == (2, 1, True)
    assert len(http_endpoint.requests) == 2
    released = Notification.objects.get(status=Notification.Status.PENDING)
    assert (released.claim_token, released.lease_expires_at, released.attempts) == (None, None, 0)


def test_an_unknown_claim_token_marks_nothing(manager):
    NotificationFactory(recipient=manager)
    claim = notifications_claim_due()

    assert notification_deliver(notification=claim.rows[0], claim_token=uuid.uuid4()) is None
    assert Notification.objects.get().status == Notification.Status.SENDING


def _in_thread(target, results, key, barrier):
    def run():
        try:
            barrier.wait(timeout=10)
            results[key] = target()
        except Exception as exc:  # surfaced by the assertions below
            results[key] = exc
        finally:
            connections.close_all()

    return threading.Thread(target=run)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claimers_never_claim_the_same_row(manager):
    Notification.objects.bulk_create(
        [
            Notification(
                dedupe_key=f"c:{i}", subject="提醒", recipient=manager, next_attempt_at=timezone.now()
            )
            for i in range(300)
        ]
    )

    def claim_until_empty():
        claimed = []
        while rows := notifications_claim_due(batch_size=7).rows:
            claimed.extend(row.pk for row in rows)
        return claimed

    results: dict = {}
    barrier = threading.Barrier(2)
    threads = [_in_thread(claim_until_empty, results, key, barrier) for key in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    a, b = results["a"], results["b"]
    assert not isinstance(a, Exception) and not isinstance(b, Exception), results
    assert a and b, "both workers should have got some rows"
    assert not set(a) & set(b)
    assert len(a) + len(b) == 300
    assert set(a) | set(b) == set(Notification.objects.values_list("id", flat=True))


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_claimer_skips_rows_another_worker_has_locked_instead_of_waiting(manager):
    rows = [NotificationFactory(recipient=manager) for _ in range(4)]
    locked = threading.Event()
    release = threading.Event()

    def hold_two_rows():
        try:
            with transaction.atomic():
                ids = list(
                    Notification.objects.filter(pk__in=[rows[0].pk, rows[1].pk])
                    .select_for_update()
                    .values_list("id", flat=True)
                )
                locked.set()
                release.wait(timeout=30)
            return ids
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_two_rows)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        result: dict = {}
        claimer = _in_thread(
            lambda: notifications_claim_due(batch_size=10), result, "claim", threading.Barrier(1)
        )
        claimer.start()
        claimer.join(timeout=10)
        assert not claimer.is_alive(), "the claimer waited for the locked rows"
    finally:
        release.set()
        holder.join(timeout=30)

    claim = result["claim"]
    assert not isinstance(claim, Exception), claim
    assert sorted(row.pk for row in claim.rows) == [rows[2].pk, rows[3].pk]


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_of_one_key_write_one_row_without_an_error(manager):
    barrier = threading.Barrier(4)
    results: dict = {}

    def enqueue():
        with transaction.atomic():
            return notification_enqueue(dedupe_key="same", subject="提醒", recipient=manager)

    threads = [_in_thread(enqueue, results, key, barrier) for key in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not [r for r in results.values() if isinstance(r, Exception)], results
    assert len([r for r in results.values() if r is not None]) == 1
    assert Notification.objects.filter(dedupe_key="same").count() == 1
