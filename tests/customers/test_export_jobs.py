"""Large customer exports are written by a worker (customers.exports): the request answers at
once with a page that shows the progress and then the download, which holds exactly the rows
the export written in the request holds; nobody else can see the job or its file, and no job
is left behind when its enqueue or its worker fails."""

import io
import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from customers import exports, tasks
from customers.models import ExportJob
from tests.factories import ContactFactory, CustomerFactory


@pytest.fixture(autouse=True)
def small_inline_limit(settings, tmp_path):
    settings.CUSTOMER_EXPORT_INLINE_ROWS = 2
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The job ids the enqueue sent to the broker."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.write_export, "delay", sent.append)
    return sent


@pytest.fixture
def archive(org_tree, manager, colleague):
    mine = [CustomerFactory(station=org_tree["station"], manager=manager, kind="resident") for _ in range(3)]
    for customer in mine:
        ContactFactory(customer=customer, mobile="13885550001", is_primary=True)
    theirs = CustomerFactory(station=org_tree["station"], manager=colleague, kind="commercial")
    ContactFactory(customer=theirs, mobile="13885550002", is_primary=True)
    CustomerFactory(station=org_tree["other_station"])
    return mine + [theirs]


def _sheet_values(content: bytes) -> list[list]:
    return [[cell.value for cell in row] for row in load_workbook(io.BytesIO(content)).active.iter_rows()]


def _inline_export(client, params=None, **headers) -> bytes:
    response = client.get(reverse("customers:export"), params or {}, **headers)
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def test_a_large_export_becomes_a_job_whose_file_holds_what_the_request_would_have_written(
    login, manager, archive, settings, queued, django_capture_on_commit_callbacks
):
    client = login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("customers:export"))
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:export_detail", args=[job.pk])
    assert queued == [job.pk]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "排队中" in page.content.decode() and 'hx-trigger="every 1s"' in page.content.decode()
    # Nothing to download before the worker has written it.
    assert client.get(reverse("customers:export_download", args=[job.pk])).status_code == 404

    tasks.write_export(job.pk)

    job.refresh_from_db()
    assert (job.status, job.total, job.processed) == (ExportJob.Status.DONE, 4, 4)
    progress = client.get(reverse("customers:export_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in progress.content.decode()
    assert reverse("customers:export_download", args=[job.pk]) in progress.content.decode()
    download = client.get(reverse("customers:export_download", args=[job.pk]))
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"] and ".xlsx" in download["Content-Disposition"]
    from_the_job = _sheet_values(b"".join(download.streaming_content))

    settings.CUSTOMER_EXPORT_INLINE_ROWS = 100
    assert from_the_job == _sheet_values(_inline_export(client))
    # Four customers of the station, the colleague's phone masked as in the list.
    assert len(from_the_job) == 5
    assert "13885550002" not in str(from_the_job) and "13885550001" in str(from_the_job)


def test_the_filters_and_the_language_of_the_request_are_those_of_the_file(
    login, manager, archive, settings, queued
):
    client = login(manager)
    client.get(reverse("customers:export"), {"kind": "resident"}, HTTP_ACCEPT_LANGUAGE="en")
    job = ExportJob.objects.get()
    assert job.params == {"kind": ["resident"]} and job.language == "en"
    exports.write_export_job(job.pk)
    job.refresh_from_db()
    content = b"".join(client.get(reverse("customers:export_download", args=[job.pk])).streaming_content)
    assert (
        "Customer archive"
        in (client.get(reverse("customers:export_download", args=[job.pk]))["Content-Disposition"])
    )
    settings.CUSTOMER_EXPORT_INLINE_ROWS = 100
    inline = _inline_export(client, {"kind": "resident"}, HTTP_ACCEPT_LANGUAGE="en")
    assert _sheet_values(content) == _sheet_values(inline)
    assert _sheet_values(content)[0][0] != "户号"
    assert job.total == 3


def test_a_small_export_is_still_written_in_the_request(login, manager, archive, settings, queued):
    settings.CUSTOMER_EXPORT_INLINE_ROWS = 4
    response = login(manager).get(reverse("customers:export"))
    assert response.status_code == 200
    assert not ExportJob.objects.exists() and queued == []


def test_a_second_click_while_the_first_is_written_adds_no_job(login, manager, archive, queued):
    client = login(manager)
    first = client.get(reverse("customers:export"))
    second = client.get(reverse("customers:export"))
    assert first["Location"] == second["Location"]
    assert ExportJob.objects.count() == 1
    # Other filters are another export.
    client.get(reverse("customers:export"), {"kind": "resident"})
    assert ExportJob.objects.count() == 2


def test_nobody_else_sees_the_job_or_its_file(login, manager, colleague, admin_user, archive, queued):
    login(manager).get(reverse("customers:export"))
    job = ExportJob.objects.get()
    exports.write_export_job(job.pk)
    for other in (colleague, admin_user):
        client = login(other)
        assert client.get(reverse("customers:export_detail", args=[job.pk])).status_code == 404
        assert client.get(reverse("customers:export_download", args=[job.pk])).status_code == 404
    assert login(manager).get(reverse("customers:export_download", args=[job.pk])).status_code == 200


def test_a_job_that_fails_says_so_and_offers_no_file(login, manager, archive, queued, monkeypatch):
    login(manager).get(reverse("customers:export"))
    job = ExportJob.objects.get()

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "workbook_file", lambda sheets: broken())
    with pytest.raises(RuntimeError):
        exports.write_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and not job.file
    page = login(manager).get(reverse("customers:export_detail", args=[job.pk])).content.decode()
    assert "生成导出文件时发生错误" in page and "hx-trigger" not in page
    assert login(manager).get(reverse("customers:export_download", args=[job.pk])).status_code == 404


def test_a_job_left_running_by_a_dead_worker_is_written_when_the_task_comes_again(
    login, manager, archive, queued
):
    login(manager).get(reverse("customers:export"))
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, processed=1)
    exports.write_export_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed) == (ExportJob.Status.DONE, 4)
    # A finished job run again is left as it is.
    name = job.file.name
    exports.write_export_job(job.pk)
    job.refresh_from_db()
    assert job.file.name == name


def test_a_run_that_died_after_writing_its_file_leaves_no_second_copy(login, manager, archive, queued):
    login(manager).get(reverse("customers:export"))
    job = ExportJob.objects.get()
    exports.write_export_job(job.pk)
    job.refresh_from_db()
    folder = os.path.dirname(job.file.path)
    # The worker died before it could mark the job done: the task comes again.
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, file="")
    exports.write_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    assert os.listdir(folder) == [os.path.basename(job.file.name)]


def test_the_sweep_queues_stalled_jobs_again_and_deletes_expired_ones_with_their_files(
    login, manager, archive, queued, settings
):
    client = login(manager)
    client.get(reverse("customers:export"))
    old = ExportJob.objects.get()
    exports.write_export_job(old.pk)
    old.refresh_from_db()
    path = old.file.path
    client.get(reverse("customers:export"), {"kind": "resident"})
    stalled = ExportJob.objects.latest("pk")
    now = timezone.now()
    ExportJob.objects.filter(pk=old.pk).update(
        created_at=now - timedelta(hours=settings.CUSTOMER_EXPORT_KEEP_HOURS, minutes=1)
    )
    ExportJob.objects.filter(pk=stalled.pk).update(
        heartbeat_at=now - timedelta(seconds=settings.CUSTOMER_EXPORT_STALE_SECONDS + 1)
    )
    queued.clear()

    assert exports.export_jobs_sweep(now=now) == (1, 1)

    assert queued == [stalled.pk]
    assert not ExportJob.objects.filter(pk=old.pk).exists()
    assert not os.path.exists(path)
    # A job queued again is not queued again at the next sweep before another stale period.
    assert exports.export_jobs_sweep(now=now + timedelta(seconds=1)) == (0, 0)


def test_a_broker_that_does_not_answer_leaves_the_job_queued_for_the_sweep(
    login, manager, archive, monkeypatch, django_capture_on_commit_callbacks
):
    def down(job_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.write_export, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).get(reverse("customers:export"))
    assert response.status_code == 302
    assert ExportJob.objects.get().status == ExportJob.Status.QUEUED


def test_the_job_page_reads_a_constant_number_of_queries(
    login, manager, archive, queued, django_assert_max_num_queries
):
    client = login(manager)
    client.get(reverse("customers:export"))
    job = ExportJob.objects.get()
    with django_assert_max_num_queries(8):
        assert (
            client.get(reverse("customers:export_detail", args=[job.pk]), HTTP_HX_REQUEST="true").status_code
            == 200
        )


def test_nobody_signed_in_is_sent_to_the_login_page(client, manager, archive, queued):
    login_url = "/accounts/login/"
    for name in ("customers:export_detail", "customers:export_download"):
        response = client.get(reverse(name, args=[1]))
        assert response.status_code == 302 and response["Location"].startswith(login_url)
