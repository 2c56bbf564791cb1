"""A real `celery worker` process pulls the chat archive's spool through Redis."""

from datetime import timedelta

from django.utils import timezone

from groups.models import ArchiveCursor, GroupMessage
from groups.tasks import pull_chat_archive
from tests.celery_worker import WORKER_MARKS, running_worker, send, task_finished, unique_queue, wait_for
from tests.groups.archive_support import CUSTOMER_ID, STAFF_ID, text_message, write_spool

pytestmark = WORKER_MARKS


def test_a_worker_process_stores_the_spool_once_however_often_it_runs(
    transactional_db,
    linked,
    tmp_path,
    monkeypatch,  # noqa: F811
):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("WECOM_ARCHIVE_SOURCE", "spool")
    monkeypatch.setenv("WECOM_ARCHIVE_SPOOL_DIR", str(spool))
    asked_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    write_spool(
        spool,
        [
            text_message(1, "msg-q", CUSTOMER_ID, "请问几点来电？", asked_at),
            text_message(2, "msg-r", STAFF_ID, "预计十点。", asked_at + timedelta(minutes=4)),
        ],
    )
    queue = unique_queue("test-archive")
    with running_worker(queue, log_path=tmp_path / "worker.log") as log_path:
        first = send(pull_chat_archive, queue)
        assert wait_for(lambda: task_finished(log_path, first), timeout=60), log_path.read_text()
        second = send(pull_chat_archive, queue)
        assert wait_for(lambda: task_finished(log_path, second), timeout=60), log_path.read_text()

    assert GroupMessage.objects.filter(group=linked).count() == 2
    assert GroupMessage.objects.get(external_id="msg-q").response_seconds == 240
    assert ArchiveCursor.objects.get(source="spool").seq == 2
