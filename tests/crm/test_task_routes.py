"""Queues by urgency: reminders, delivery, the SLA scan and WeCom callbacks on `realtime`;
imports, exports, fan-outs, reconciles, archive pulls and refreshes on `bulk`."""

from pathlib import Path

import pytest
from django.conf import settings

from crm.celery import app

BASE_DIR = Path(settings.BASE_DIR)

REALTIME = {
    "notifications.tasks.deliver_due_notifications",
    "notifications.tasks.send_digests",
    "tickets.tasks.sla_scan",
    "tickets.tasks.return_visit_scan",
    "tickets.tasks.promise_scan",
    "groups.tasks.inquiry_reminder_scan",
    "outages.tasks.long_outage_scan",
    "wecom.tasks.process_callback_event",
    "wecom.tasks.process_pending_callbacks",
}
BULK = {
    "customers.tasks.validate_import",
    "customers.tasks.write_import",
    "customers.tasks.write_export",
    "customers.tasks.sweep_exports",
    "customers.tasks.remind_stale_archives",
    "customers.tasks.schedule_routine_visits",
    "outages.tasks.fan_out_notices",
    "reach.tasks.refresh_reach",
    "groups.tasks.publish_due_broadcasts",
    "groups.tasks.create_group_post_tasks",
    "groups.tasks.poll_group_posts",
    "groups.tasks.pull_chat_archive",
    "groups.tasks.reconcile_wecom_groups",
    "groups.tasks.refresh_group_health",
    "groups.tasks.zombie_scan",
    "workspace.tasks.refresh_dashboard",
    "workspace.tasks.warm_dashboards",
    "reach.tasks.send_personal_posts",
    "core.tasks.purge_idempotency_keys",
}


def routed_queue(task_name: str) -> str:
    """The queue Celery's router picks when the task is sent (by beat, a kick or .delay)."""
    return app.amqp.router.route({}, task_name)["queue"].name


def project_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


@pytest.mark.parametrize("task_name", sorted(REALTIME))
def test_urgent_tasks_go_to_the_realtime_queue(task_name):
    assert routed_queue(task_name) == "realtime"


@pytest.mark.parametrize("task_name", sorted(BULK))
def test_bulk_tasks_go_to_the_bulk_queue(task_name):
    assert routed_queue(task_name) == "bulk"


def test_every_task_of_the_project_is_routed_by_name():
    """A new task must choose its queue in settings (CELERY_TASK_ROUTES)."""
    tasks = project_tasks()
    assert tasks == REALTIME | BULK
    assert sorted(tasks - set(settings.CELERY_TASK_ROUTES)) == []


def test_every_periodic_task_is_routed():
    periodic = {entry["task"] for entry in settings.BEAT_SCHEDULE_DEFAULTS.values()}
    assert periodic <= REALTIME | BULK


def test_an_unrouted_task_lands_on_a_queue_that_workers_consume():
    assert routed_queue("somewhere.tasks.new_task") == "realtime"


def test_make_run_starts_a_worker_per_queue():
    script = (BASE_DIR / "scripts" / "run.sh").read_text()
    assert "worker -Q realtime " in script
    assert "worker -Q bulk " in script


def test_docker_compose_runs_a_worker_per_queue():
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert '"worker", "-Q", "realtime"' in compose
    assert '"worker", "-Q", "bulk"' in compose


def test_a_watchdog_limit_below_one_stops_the_process_at_start_up(tmp_path):
    from tests.crm.test_settings import manage

    result = manage("check", tmp_path=tmp_path, OPS_SLA_SCAN_STALE_MINUTES="0")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "OPS_SLA_SCAN_STALE_MINUTES" in result.stderr
