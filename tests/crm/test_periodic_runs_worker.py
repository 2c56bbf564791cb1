"""A real `celery worker` process records the run of a periodic task it ran."""

from core.models import PeriodicRun
from tests.celery_worker import WORKER_MARKS, running_worker, send, task_finished, unique_queue, wait_for
from tickets.tasks import sla_scan

pytestmark = WORKER_MARKS


def test_a_real_worker_records_the_run(transactional_db):
    queue = unique_queue("test-runs")
    with running_worker(queue) as log_path:
        task_id = send(sla_scan, queue)
        assert wait_for(lambda: task_finished(log_path, task_id), timeout=60), log_path.read_text()

    run = PeriodicRun.objects.get(task=sla_scan.name)
    assert run.last_outcome == PeriodicRun.Outcome.SUCCESS
    assert run.last_started_at <= run.last_finished_at == run.last_succeeded_at
