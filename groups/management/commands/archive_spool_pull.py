"""The SDK puller: read the chat archive with WeCom's SDK and write it to the spool.

Meant for a container of its own (WECOM_ARCHIVE_SOURCE=spool in the CRM, the
SDK settings here): the vendor library runs in this process only, so a crash
inside it (it aborts the process on a malformed record) never takes a CRM
worker down. It resumes after the highest sequence number already in the spool.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from groups.archive.sources import SpoolWriter, sdk_source


class Command(BaseCommand):
    help = (
        "Pull the WeCom chat archive with the SDK into WECOM_ARCHIVE_SPOOL_DIR (the puller container's loop)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="write the batches available now, then stop")
        parser.add_argument("--interval", type=int, default=60, help="seconds between pulls")

    def handle(self, *args, once: bool = False, interval: int = 60, **options):
        source = sdk_source()
        writer = SpoolWriter(settings.WECOM_ARCHIVE_SPOOL_DIR)
        while True:
            written = 0
            while True:
                batch = source.fetch(writer.last_seq(), settings.WECOM_ARCHIVE_BATCH)
                if not batch:
                    break
                path = writer.write(batch)
                written += len(batch)
                self.stdout.write(f"{path.name}: {len(batch)} message(s), up to seq {batch[-1].seq}")
            if once:
                return
            if not written:
                time.sleep(max(interval, 1))
