"""Fill a PostgreSQL database with data at scale (bench/generate.py), for benchmarks and load tests.

    python manage.py seed_scale --scale {small,county,prefecture} --wipe

It empties the archive, orders, groups, outages and notifications first, so
it refuses to run without --wipe, and on anything but PostgreSQL.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Wipe and fill the database with generated customers, work orders, groups and outages at scale."

    def add_arguments(self, parser):
        from bench.generate import SCALES

        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument(
            "--wipe",
            action="store_true",
            help="confirm that the customers, orders, groups, outages and notifications may be deleted",
        )
        parser.add_argument(
            "--no-record", action="store_true", help="do not write the timings to bench/results/latest.json"
        )

    def handle(self, *args, scale: str, wipe: bool, no_record: bool, **options):
        from bench import generate
        from bench.common import record

        if connection.vendor != "postgresql":
            raise CommandError("seed_scale needs PostgreSQL (set DATABASE_URL).")
        if not wipe:
            raise CommandError(
                f"seed_scale deletes every customer, order, group and outage in "
                f"{connection.settings_dict['NAME']!r}; run it again with --wipe."
            )
        self.stdout.write(f"Generating the {scale} scale in {connection.settings_dict['NAME']}:")
        figures = generate.seed(scale, log=self.stdout.write)
        self.stdout.write(self.style.SUCCESS(f"Done in {figures['seconds']['total']} s."))
        if not no_record:
            sizes = {key: figures.pop(key) for key in ("scale", "customers", "work_orders")}
            # One entry per scale: the figures of each stay side by side.
            record(f"seed_scale:{scale}", {**sizes, **figures}, scale={"scale": scale})
