"""With the broker unreachable, business writes still succeed and their notifications wait."""

import logging

from django.db import transaction

from customers.models import Customer
from notifications.models import Notification
from notifications.services import kick_delivery, notification_enqueue
from notifications.tasks import deliver_due_notifications
from tests.factories import CustomerFactory


def test_a_business_write_succeeds_and_its_notification_waits(
    broker_down, manager, org_tree, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.WARNING, logger="notifications")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        customer = CustomerFactory(station=org_tree["station"], manager=manager, name="雷山县丹江镇中学")
        notification_enqueue(
            dedupe_key=f"customer:{customer.pk}:created",
            subject=f"新建客户档案：{customer.name}",
            recipient=manager,
        )

    assert len(callbacks) == 1  # the kick ran, against the dead broker, and was swallowed
    assert Customer.objects.filter(pk=customer.pk).exists()
    row = Notification.objects.get()
    assert row.status == Notification.Status.PENDING
    [warning] = [r for r in caplog.records if r.name == "notifications.services"]
    assert warning.levelno == logging.WARNING
    assert "periodic scan" in warning.getMessage()
    assert "丹江镇中学" not in caplog.text
    assert manager.username not in caplog.text

    # The periodic scan finds it once a worker runs again.
    assert deliver_due_notifications()["sent"] == 1
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT


def test_kick_delivery_swallows_a_broker_error(broker_down, caplog):
    kick_delivery()

    assert "Could not kick notification delivery (OperationalError)" in caplog.text
