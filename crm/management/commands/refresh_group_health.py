"""Recompute every service group's health row from its messages (repair, or after a bulk load)."""

from django.core.management.base import BaseCommand

from groups.services.summaries import REFRESH_BATCH, group_health_refresh_all, group_health_refresh_stale


class Command(BaseCommand):
    help = "Recompute the groups' health rows (GroupHealth) from their messages."

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale", action="store_true", help="Only the rows that are missing or no longer exact now."
        )
        parser.add_argument("--batch", type=int, default=REFRESH_BATCH, help="Groups per statement.")

    def handle(self, *args, stale: bool = False, batch: int = REFRESH_BATCH, **options):
        batch = max(batch, 1)
        count = group_health_refresh_stale(batch=batch) if stale else group_health_refresh_all(batch=batch)
        self.stdout.write(f"{count} group health rows recomputed")
