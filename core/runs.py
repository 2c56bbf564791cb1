"""Run records of the periodic tasks (PeriodicRun), written by the worker.

Celery's signals fire around every task the worker (or an eager apply) runs;
only the tasks of the beat schedule are recorded, whether beat or a kick
started them. A failure to record is logged and never fails the task.
"""

import logging

from celery import signals
from django.conf import settings
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from core.models import PeriodicRun

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = PeriodicRun._meta.get_field("last_error").max_length


def periodic_task_names() -> frozenset[str]:
    """The task names of the beat schedule's defaults."""
    return frozenset(entry["task"] for entry in settings.BEAT_SCHEDULE_DEFAULTS.values())


def _watched(task) -> bool:
    return getattr(task, "name", None) in periodic_task_names()


def _record(action: str, **kwargs) -> None:
    try:
        if action == "start":
            run_started(**kwargs)
        else:
            run_finished(**kwargs)
    except DatabaseError as exc:
        logger.warning("could not record the %s of %s: %s", action, kwargs.get("task"), type(exc).__name__)


def run_started(*, task: str, at=None) -> None:
    at = at or timezone.now()
    updated = PeriodicRun.objects.filter(task=task).update(
        last_started_at=at, last_outcome=PeriodicRun.Outcome.RUNNING
    )
    if not updated:
        PeriodicRun.objects.get_or_create(
            task=task, defaults={"last_started_at": at, "last_outcome": PeriodicRun.Outcome.RUNNING}
        )


def run_finished(*, task: str, succeeded: bool, error: str = "", at=None) -> None:
    at = at or timezone.now()
    if succeeded:
        fields = {
            "last_outcome": PeriodicRun.Outcome.SUCCESS,
            "last_succeeded_at": at,
            "last_error": "",
            "consecutive_failures": 0,
        }
    else:
        fields = {
            "last_outcome": PeriodicRun.Outcome.FAILURE,
            "last_error": error[:ERROR_MAX_LENGTH],
            "consecutive_failures": F("consecutive_failures") + 1,
        }
    if not PeriodicRun.objects.filter(task=task).update(last_finished_at=at, **fields):
        PeriodicRun.objects.get_or_create(task=task)
        PeriodicRun.objects.filter(task=task).update(last_finished_at=at, **fields)


def _error_text(exception) -> str:
    if exception is None:
        return ""
    message = str(exception).splitlines()[0] if str(exception) else ""
    return f"{type(exception).__name__}: {message}" if message else type(exception).__name__


@signals.task_prerun.connect(dispatch_uid="core.runs.prerun")
def _on_prerun(sender=None, task=None, **kwargs) -> None:
    if _watched(task):
        _record("start", task=task.name)


@signals.task_postrun.connect(dispatch_uid="core.runs.postrun")
def _on_postrun(sender=None, task=None, state=None, retval=None, **kwargs) -> None:
    if not _watched(task):
        return
    succeeded = state == "SUCCESS"
    # On failure or retry the return value is the exception (a Retry carries the cause).
    error = "" if succeeded else _error_text(getattr(retval, "exc", None) or retval) or str(state)
    _record("finish", task=task.name, succeeded=succeeded, error=error)
