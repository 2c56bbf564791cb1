"""A real `celery worker` process runs the digest beat task: one digest per interval, once."""

from notifications.digests import ESCALATIONS, digest_entries_add
from notifications.models import DigestEntry, Notification
from notifications.tasks import send_digests
from tests.celery_worker import WORKER_MARKS, running_worker, send, task_finished, unique_queue, wait_for

pytestmark = WORKER_MARKS


def line(user, n: int) -> dict:
    return {
        "recipient_id": user.pk,
        "topic": ESCALATIONS,
        "dedupe_key": f"ticket:{n}:r1:overdue:1:{user.pk}",
        "subject": f"工单已超时（1级）：GD{n:04d}",
        "link": f"/tickets/GD{n:04d}/",
    }


def digests(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, dedupe_key__startswith="digest:").order_by("id"))


def test_a_worker_sends_a_digest_once(transactional_db, supervisor, monkeypatch):
    # A day-long interval: the two runs below cannot straddle an interval's end.
    monkeypatch.setenv("SUPERVISOR_DIGEST_MINUTES", "1440")
    digest_entries_add([line(supervisor, 1), line(supervisor, 2)])
    queue = unique_queue("test-digests")
    with running_worker(queue) as log_path:
        first = send(send_digests, queue)
        assert wait_for(lambda: task_finished(log_path, first), timeout=60), log_path.read_text()
        assert f"[{first}] succeeded" in log_path.read_text(), log_path.read_text()
        digest_entries_add([line(supervisor, 3)])
        second = send(send_digests, queue)
        assert wait_for(lambda: task_finished(log_path, second), timeout=60), log_path.read_text()
    [message] = digests(supervisor)
    assert message.subject == "工单超时升级汇总（2 条）"
    assert set(DigestEntry.objects.filter(notification=message).values_list("dedupe_key", flat=True)) == {
        line(supervisor, 1)["dedupe_key"],
        line(supervisor, 2)["dedupe_key"],
    }
    assert DigestEntry.objects.get(notification__isnull=True).dedupe_key == line(supervisor, 3)["dedupe_key"]
