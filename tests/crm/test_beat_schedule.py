"""The beat schedule belongs to the admin: beat creates missing defaults and keeps every change."""

import importlib
from datetime import timedelta

import pytest
from celery.beat import Service
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from crm.celery import app

# Beat runs in a process of its own, committing as it goes; so does this.
pytestmark = pytest.mark.django_db(transaction=True)

DEFAULTS = settings.BEAT_SCHEDULE_DEFAULTS


def start_beat():
    """The scheduler beat starts (CELERY_BEAT_SCHEDULER), set up as beat sets it up."""
    scheduler = Service(app=app, scheduler_cls=app.conf.beat_scheduler).get_scheduler(lazy=False)
    # What beat writes back when it exits: nothing here, and the test database is gone by then.
    scheduler._finalize.cancel()
    return scheduler


def change_url(task: PeriodicTask) -> str:
    return reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])


def save_in_admin(client, url: str, **changes) -> None:
    """Open an admin form, make `changes` and save it, as a browser does."""
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    for inline in page.context["inline_admin_formsets"]:
        # No inline rows (an interval's tasks are shown below it): none on an add page.
        assert inline.formset.initial_form_count() == 0
        management = inline.formset.management_form
        data[management.add_prefix("TOTAL_FORMS")] = data[management.add_prefix("INITIAL_FORMS")] = 0
    data.update(changes)
    posted = {
        name: "on" if value is True else value
        for name, value in data.items()
        if value is not None and value is not False
    }
    response = client.post(url, posted)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_the_first_start_creates_every_default_and_each_names_a_task_that_exists():
    scheduler = start_beat()

    rows = {row.name: row for row in PeriodicTask.objects.all()}
    assert set(DEFAULTS) <= set(rows)
    for name, entry in DEFAULTS.items():
        assert rows[name].task == entry["task"]
        assert rows[name].enabled
        assert name in scheduler.schedule
        module, function = entry["task"].rsplit(".", 1)
        assert hasattr(importlib.import_module(module), function), entry["task"]
    assert rows["tickets-sla-scan"].interval.schedule.run_every == DEFAULTS["tickets-sla-scan"]["schedule"]


def test_an_interval_changed_in_the_admin_outlives_a_restart_of_beat(login, admin_user):
    start_beat()
    client = login(admin_user)
    save_in_admin(
        client, reverse("admin:django_celery_beat_intervalschedule_add"), every=15, period="seconds"
    )
    every_15_seconds = IntervalSchedule.objects.get(every=15, period="seconds")
    scan = PeriodicTask.objects.get(name="tickets-sla-scan")

    save_in_admin(client, change_url(scan), interval=every_15_seconds.pk)
    scheduler = start_beat()

    scan.refresh_from_db()
    assert scan.interval == every_15_seconds
    assert scheduler.schedule["tickets-sla-scan"].schedule.run_every == timedelta(seconds=15)
    assert PeriodicTask.objects.filter(name="tickets-sla-scan").count() == 1


def test_a_crontab_changed_in_the_admin_outlives_a_restart_of_beat(login, admin_user):
    start_beat()
    client = login(admin_user)
    zombie_scan = PeriodicTask.objects.get(name="groups-zombie-scan")
    half_past_ten = CrontabSchedule.objects.create(minute="30", hour="10", timezone=settings.TIME_ZONE)

    save_in_admin(client, change_url(zombie_scan), crontab=half_past_ten.pk)
    start_beat()

    zombie_scan.refresh_from_db()
    assert (zombie_scan.crontab.hour, zombie_scan.crontab.minute) == ("10", "30")


def test_a_task_disabled_in_the_admin_stays_disabled(login, admin_user):
    start_beat()
    client = login(admin_user)
    visits = PeriodicTask.objects.get(name="tickets-return-visit-scan")

    save_in_admin(client, change_url(visits), enabled=False)
    scheduler = start_beat()

    visits.refresh_from_db()
    assert visits.enabled is False
    assert "tickets-return-visit-scan" not in scheduler.schedule


def test_a_missing_default_is_created_and_a_deleted_one_comes_back_as_it_was():
    start_beat()
    PeriodicTask.objects.get(name="outages-long-outage-scan").delete()
    PeriodicTask.objects.filter(name="notifications-deliver-due").update(task="notifications.tasks.other")

    scheduler = start_beat()

    restored = PeriodicTask.objects.get(name="outages-long-outage-scan")
    assert restored.task == DEFAULTS["outages-long-outage-scan"]["task"]
    assert restored.interval.schedule.run_every == DEFAULTS["outages-long-outage-scan"]["schedule"]
    assert "outages-long-outage-scan" in scheduler.schedule
    # Only missing rows are written: the other one keeps what was saved.
    assert PeriodicTask.objects.get(name="notifications-deliver-due").task == "notifications.tasks.other"


def test_rows_saved_under_a_former_task_name_are_pointed_at_its_current_name():
    migration = importlib.import_module("crm.migrations.0003_periodic_tasks_renamed")
    every_hour = IntervalSchedule.objects.create(every=1, period="hours")
    purge = PeriodicTask.objects.create(
        name="crm-purge-idempotency-keys", task="crm.tasks.purge_idempotency_keys", interval=every_hour
    )
    dashboard = PeriodicTask.objects.create(
        name="dashboard", task="crm.tasks.refresh_dashboard", interval=every_hour
    )
    other = PeriodicTask.objects.create(name="sla", task="tickets.tasks.sla_scan", interval=every_hour)

    from django.apps import apps

    migration.repoint(apps, None)

    for row in (purge, dashboard, other):
        row.refresh_from_db()
    assert purge.task == "core.tasks.purge_idempotency_keys"
    assert dashboard.task == "workspace.tasks.refresh_dashboard"
    assert other.task == "tickets.tasks.sla_scan"
    start_beat()
    assert PeriodicTask.objects.get(name="crm-purge-idempotency-keys").task == (
        "core.tasks.purge_idempotency_keys"
    )


def test_on_the_first_start_the_interval_scans_are_due_at_once_and_crontab_ones_keep_their_hour():
    scheduler = start_beat()
    sla = scheduler.schedule["tickets-sla-scan"]
    delivery = scheduler.schedule["notifications-deliver-due"]
    assert sla.is_due().is_due
    assert delivery.is_due().is_due
    weekly = scheduler.schedule["customers-remind-stale-archives"]
    assert weekly.model.last_run_at is None or not weekly.is_due().is_due
    assert PeriodicTask.objects.get(name="tickets-sla-scan").last_run_at is not None


def test_a_restart_keeps_the_last_run_of_existing_rows():
    start_beat()
    ran = PeriodicTask.objects.filter(name="tickets-sla-scan")
    ran.update(last_run_at=timezone.now())
    scheduler = start_beat()
    # Ran a moment ago: not due again before its interval.
    assert not scheduler.schedule["tickets-sla-scan"].is_due().is_due
