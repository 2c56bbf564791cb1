"""A real `celery worker` process writes a large export's workbook into the shared media
storage, and the web side serves it to its creator."""

import io

from django.urls import reverse
from openpyxl import load_workbook

from customers import tasks
from customers.models import ExportJob
from tests.celery_worker import WORKER_MARKS, running_worker, send, task_finished, unique_queue, wait_for
from tests.factories import ContactFactory, CustomerFactory

pytestmark = WORKER_MARKS


def test_a_worker_writes_the_file_the_creator_downloads(
    transactional_db, login, manager, org_tree, settings, tmp_path, monkeypatch
):
    settings.CUSTOMER_EXPORT_INLINE_ROWS = 2
    # The worker process reads MEDIA_ROOT from its environment, as in production.
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(tasks.write_export, "delay", lambda job_id: None)
    for index in range(4):
        customer = CustomerFactory(name=f"导出客户{index}", station=org_tree["station"], manager=manager)
        ContactFactory(customer=customer, mobile=f"1398555000{index}", is_primary=True)
    client = login(manager)
    assert client.get(reverse("customers:export")).status_code == 302
    job = ExportJob.objects.get()

    queue = unique_queue("test-exports")
    with running_worker(queue) as log_path:
        task_id = send(tasks.write_export, queue, args=[job.pk])
        assert wait_for(lambda: task_finished(log_path, task_id), timeout=60), log_path.read_text()
        assert f"[{task_id}] succeeded" in log_path.read_text(), log_path.read_text()

    job.refresh_from_db()
    assert (job.status, job.total) == (ExportJob.Status.DONE, 4)
    response = client.get(reverse("customers:export_download", args=[job.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sorted(row[1] for row in sheet.iter_rows(min_row=2, values_only=True)) == [
        f"导出客户{index}" for index in range(4)
    ]
