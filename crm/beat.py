"""The beat scheduler: django-celery-beat's, with the schedule left to the admin."""

import logging
import time

from django.conf import settings
from django.utils import timezone
from django_celery_beat.schedulers import ADD_ENTRY_ERROR, DatabaseScheduler

logger = logging.getLogger(__name__)


class SeedingDatabaseScheduler(DatabaseScheduler):
    """Creates the periodic tasks of settings.BEAT_SCHEDULE_DEFAULTS that have no row, and
    changes no existing row.

    django-celery-beat's own scheduler writes the configured schedule over the
    rows at every start (update_or_create), so an administrator's change in the
    admin would be undone by the next restart of beat.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from workspace.ops.watchdog import WatchdogClock

        self.watchdog = WatchdogClock()

    def tick(self, *args, **kwargs):
        """Beat's loop, plus the operations watchdog every OPS_WATCHDOG_SECONDS: it runs here,
        in the beat process, so that no stuck queue or dead worker can keep it from telling."""
        interval = super().tick(*args, **kwargs)
        self.watchdog.maybe_check(time.monotonic())
        return min(interval, settings.OPS_WATCHDOG_SECONDS)

    def setup_schedule(self):
        # Celery's own entries (celery.backend_cleanup) go through update_from_dict too.
        self.install_default_entries(self.schedule)
        self.update_from_dict(settings.BEAT_SCHEDULE_DEFAULTS)

    def update_from_dict(self, mapping):
        """Create the entries of `mapping` whose name has no row yet; leave the others alone."""
        created = {}
        for name, fields in mapping.items():
            try:
                # Checked before unpacking, which saves a schedule row (an interval, a crontab).
                if self.Model._default_manager.filter(name=name).exists():
                    continue
                model, _ = self.Model._default_manager.get_or_create(
                    name=name, defaults=self.Entry._unpack_fields(**fields)
                )
            except Exception as exc:
                logger.exception(ADD_ENTRY_ERROR, name, exc, fields)
                continue
            logger.info("Created periodic task %s (%s)", name, model.task)
            if model.enabled:
                self._due_at_once(model)
                created[name] = self.Entry(model, app=self.app)
        # Rows that existed are already in the schedule: the first read of it found them.
        self.schedule.update(created)

    def _due_at_once(self, model) -> None:
        """A scan on an interval that beat has just created runs at its first tick, not one
        interval later: on a fresh installation (a new demo) the SLA scan and the outbox
        delivery start within seconds. Crontab entries keep their hour (a Monday 08:30
        reminder is not sent at start), and a row that exists keeps its own last run."""
        if model.interval_id is None or model.last_run_at is not None:
            return
        model.last_run_at = timezone.now() - model.interval.schedule.run_every
        model.save(update_fields=["last_run_at"])
