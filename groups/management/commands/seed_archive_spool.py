"""Demo of the chat archive: write a customer's question (and, with --reply, the manager's
answer) into the spool, as the SDK puller would, for a group of the demo data.

The group, the contact and the owner get demo WeCom ids when they have none,
so the pull can place the messages. Run with WECOM_ARCHIVE_SOURCE=spool.
"""

import json
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from customers.models import Contact
from groups.archive.sources import SPOOL_FILE
from groups.models import ArchiveCursor, Membership, ServiceGroup


def _next_seq(directory: Path) -> int:
    """One past the highest sequence number in the spool or the cursor."""
    last = ArchiveCursor.objects.filter(source="spool").values_list("seq", flat=True).first() or 0
    for path in directory.glob("*.jsonl"):
        if not SPOOL_FILE.match(path.name):
            continue
        for line in path.read_bytes().splitlines():
            try:
                seq = json.loads(line).get("seq")
            except (ValueError, AttributeError):
                continue
            if type(seq) is int:
                last = max(last, seq)
    return last + 1


class Command(BaseCommand):
    help = "Write a demo chat-archive spool file: a customer's question in a group (--reply: its answer)."

    def add_arguments(self, parser):
        parser.add_argument("--reply", action="store_true", help="also write the owner's reply in the group")

    def handle(self, *args, reply: bool = False, **options):
        membership = (
            Membership.objects.active()
            .filter(contact__isnull=False, group__archived_at__isnull=True)
            .select_related("group__owner", "contact")
            .order_by("group_id", "id")
            .first()
        )
        if membership is None:
            raise CommandError("No group with a customer in it: run `manage.py seed_demo` first.")
        group, contact, owner = membership.group, membership.contact, membership.group.owner
        if not group.external_id:
            group.external_id = f"wrDEMO{group.pk:08d}"
            ServiceGroup.objects.filter(pk=group.pk).update(external_id=group.external_id)
        if not contact.wecom_external_userid:
            contact.wecom_external_userid = f"wmDEMO{contact.pk:08d}"
            Contact.objects.filter(pk=contact.pk).update(wecom_external_userid=contact.wecom_external_userid)
        if not owner.wecom_userid:
            owner.wecom_userid = f"demo-{owner.pk}"
            User.objects.filter(pk=owner.pk).update(wecom_userid=owner.wecom_userid)

        directory = Path(settings.WECOM_ARCHIVE_SPOOL_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        seq = _next_seq(directory)
        asked_at = timezone.now() - timedelta(minutes=3)
        lines = [
            self._message(
                seq,
                contact.wecom_external_userid,
                group.external_id,
                asked_at,
                "请问明天的计划停电几点能恢复供电？",
            )
        ]
        if reply:
            lines.append(
                self._message(
                    seq + 1,
                    owner.wecom_userid,
                    group.external_id,
                    asked_at + timedelta(minutes=2),
                    "您好，计划检修预计明天下午五点前恢复供电，如有变化会在群里通知。",
                )
            )
        path = directory / f"{seq:020d}.jsonl"
        with path.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        self.stdout.write(f"Wrote {len(lines)} message(s) for group #{group.pk} to {path}")

    @staticmethod
    def _message(seq: int, sender: str, roomid: str, at, text: str) -> dict:
        return {
            "seq": seq,
            "msgid": f"demo-{uuid.uuid4().hex}",
            "action": "send",
            "from": sender,
            "tolist": [],
            "roomid": roomid,
            "msgtime": int(at.timestamp() * 1000),
            "msgtype": "text",
            "text": {"content": text},
        }
