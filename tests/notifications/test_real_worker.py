"""A real `celery worker` process delivers the outbox through Redis."""

from notifications.models import Notification
from notifications.services import notification_enqueue
from notifications.tasks import deliver_due_notifications
from tests.celery_worker import WORKER_MARKS, running_worker, send, unique_queue, wait_for

pytestmark = WORKER_MARKS


def test_a_worker_process_delivers_enqueued_notifications(transactional_db, manager, http_endpoint, tmp_path):
    notification_enqueue(dedupe_key="worker:inapp", subject="站内提醒", recipient=manager)
    notification_enqueue(
        dedupe_key="worker:wecom",
        subject="群提醒",
        channel=Notification.Channel.WECOM,
        address=http_endpoint.url("/robot"),
    )
    queue = unique_queue("test-notifications")
    with running_worker(queue, log_path=tmp_path / "worker.log") as log_path:
        send(deliver_due_notifications, queue)
        delivered = wait_for(
            lambda: set(Notification.objects.values_list("status", flat=True)) == {Notification.Status.SENT},
            timeout=60,
        )
        assert delivered, (
            f"{list(Notification.objects.values_list('dedupe_key', 'status', 'last_error'))}\n"
            f"{log_path.read_text()}"
        )
    assert [r["path"] for r in http_endpoint.requests] == ["/robot"]
