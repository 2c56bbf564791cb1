"""Periodic tasks saved under a task's former name run it under its current one.

Beat writes no default over an existing row (crm/beat.py), so a row saved
under a former name would keep naming a task that does not exist.
"""

from django.db import migrations
from django.utils import timezone

RENAMED = {
    "crm.tasks.purge_idempotency_keys": "core.tasks.purge_idempotency_keys",
    "crm.tasks.refresh_dashboard": "workspace.tasks.refresh_dashboard",
}


def _rename(apps, names: dict[str, str]) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    changed = sum(PeriodicTask.objects.filter(task=old).update(task=new) for old, new in names.items())
    if changed:
        # A running beat reads its schedule again when this moves.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def repoint(apps, schema_editor):
    _rename(apps, RENAMED)


def point_back(apps, schema_editor):
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_idempotent_request_to_core"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(repoint, point_back)]
