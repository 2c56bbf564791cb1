"""Customer exports too large to write while the browser waits.

A list of up to CUSTOMER_EXPORT_INLINE_ROWS customers is written in the
request, as before. A larger one (a station's ten thousand customers, a
prefecture's million) would hold a web process for seconds to minutes, and
every other request queued behind it: it becomes an `ExportJob` that a
worker on the bulk queue writes, with the same rows (`customer_export_rows`)
in the language the user asked in. The page of the job shows its progress
and then the download; only its creator may read it.

Nothing is left behind: a job whose enqueue failed, or whose worker died
without the broker handing the task on, has no progress for
CUSTOMER_EXPORT_STALE_SECONDS and is queued again by the sweep (beat, every
minute), which also deletes jobs and files older than
CUSTOMER_EXPORT_KEEP_HOURS.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from core.xlsx import Sheet, workbook_file
from customers import selectors
from customers.models import ExportJob

logger = logging.getLogger(__name__)

# Progress (and the heartbeat the sweep reads) is written once per this many rows.
PROGRESS_EVERY = 5000


def export_filename(day=None) -> str:
    """The name a downloaded export has, in the active language."""
    return f"{_('客户档案')}-{day or timezone.localdate():%Y%m%d}.xlsx"


def download_name(job: ExportJob) -> str:
    with translation.override(job.language):
        return export_filename(timezone.localdate(job.finished_at or job.created_at))


def params_of(query: QueryDict) -> dict[str, list[str]]:
    """The request's filters as stored on a job (every value of a repeated name)."""
    return {name: values for name, values in query.lists() if name != "page"}


def query_of(params: Mapping[str, list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, values in params.items():
        query.setlist(name, [str(value) for value in values])
    return query


def fits_inline(*, user: User, params: Mapping[str, Any]) -> bool:
    """True when the filtered list is small enough to write in the request (counts at most limit + 1 rows)."""
    limit = settings.CUSTOMER_EXPORT_INLINE_ROWS
    return selectors.customer_list(user=user, params=params).order_by()[: limit + 1].count() <= limit


def export_job_request(*, user: User, query: QueryDict) -> ExportJob:
    """A job for this list, queued after commit; the user's job for the same filters
    that is still queued or being written is returned instead (a second click adds no work)."""
    params = params_of(query)
    language = translation.get_language() or settings.LANGUAGE_CODE
    with transaction.atomic():
        waiting = (
            ExportJob.objects.select_for_update()
            .filter(
                created_by=user,
                params=params,
                language=language,
                status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING],
            )
            .first()
        )
        if waiting is not None:
            return waiting
        job = ExportJob.objects.create(created_by=user, params=params, language=language)
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from customers import tasks

    try:
        tasks.write_export.delay(job_id)
    except Exception:
        # The job stays queued; the sweep queues it again once the broker answers.
        logger.exception("could not queue customer export job %s", job_id)


def _claim(job_id: int) -> bool:
    """Take a queued job, or one a dead worker left running (redelivered or swept)."""
    return bool(
        ExportJob.objects.filter(
            pk=job_id, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
        ).update(status=ExportJob.Status.RUNNING, processed=0, heartbeat_at=timezone.now())
    )


def _counted(rows: Iterator[list[Any]], job_id: int, total: int) -> Iterator[list[Any]]:
    for written, row in enumerate(rows, start=1):
        yield row
        if written % PROGRESS_EVERY == 0:
            ExportJob.objects.filter(pk=job_id).update(
                processed=min(written, total), heartbeat_at=timezone.now()
            )


def write_export_job(job_id: int) -> None:
    """Write the job's workbook into the media storage. Idempotent: a finished job is left alone,
    and a job run twice writes the same rows again."""
    if not _claim(job_id):
        return
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        with translation.override(job.language):
            params = query_of(job.params)
            total = selectors.customer_list(user=job.created_by, params=params).count()
            ExportJob.objects.filter(pk=job_id).update(total=total)
            rows = _counted(selectors.customer_export_rows(user=job.created_by, params=params), job_id, total)
            workbook = workbook_file([Sheet(_("客户档案"), selectors.export_header(), rows)])
        # The stored name is plain ASCII; the download is named in the user's language.
        name = f"customers-{job_id}.xlsx"
        # A run that died after writing its file leaves it under this name: replace it
        # rather than keep it beside a renamed copy that nothing points at.
        job.file.storage.delete(job.file.field.generate_filename(job, name))
        with workbook:
            job.file.save(name, File(workbook, name=name), save=False)
    except Exception:
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED,
            failure=_("生成导出文件时发生错误，请稍后重新导出或联系系统管理员。"),
            finished_at=timezone.now(),
        )
        raise
    done = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.DONE,
        file=job.file.name,
        processed=total,
        heartbeat_at=timezone.now(),
        finished_at=timezone.now(),
    )
    if not done:
        # Swept away (expired) while it was being written: nobody can ask for this file.
        job.file.delete(save=False)


def export_jobs_sweep(*, now=None) -> tuple[int, int]:
    """Queue again the jobs without progress for CUSTOMER_EXPORT_STALE_SECONDS; delete the jobs
    (and files) older than CUSTOMER_EXPORT_KEEP_HOURS. Returns (queued again, deleted)."""
    now = now or timezone.now()
    stale = ExportJob.objects.filter(
        status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING],
        heartbeat_at__lt=now - timedelta(seconds=settings.CUSTOMER_EXPORT_STALE_SECONDS),
    )
    requeued = 0
    for job_id in stale.values_list("pk", flat=True)[:100]:
        # The heartbeat moves now, so the next sweep waits a whole period again.
        if ExportJob.objects.filter(pk=job_id).update(heartbeat_at=now):
            _enqueue(job_id)
            requeued += 1
    expired = ExportJob.objects.filter(
        created_at__lt=now - timedelta(hours=settings.CUSTOMER_EXPORT_KEEP_HOURS)
    )
    deleted = 0
    for job in expired[:500]:
        if job.file:
            job.file.delete(save=False)
        job.delete()
        deleted += 1
    return requeued, deleted
