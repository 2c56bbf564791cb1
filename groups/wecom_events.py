"""WeCom callback events that change customer groups, handed over by wecom's inbox.

Registered from GroupsConfig.ready. Each handler is idempotent: it reads
WeCom's current state and applies it through groups.services.wecom_sync, so
an event processed twice, or late, changes nothing more. An error raised
here sends the event back to the inbox to be tried again later.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from groups.services import wecom_sync
from wecom.events import event_handler
from wecom.models import CallbackEvent

# change_external_chat: create, update (add_member, del_member, change_owner,
# change_name, change_notice), dismiss. One path for all: read the group, apply it.
CHAT_CHANGES = frozenset({"create", "update", "dismiss"})
# change_external_contact changes that may link or unlink a customer.
CONTACT_CHANGES = frozenset(
    {
        "add_external_contact",
        "add_half_external_contact",
        "edit_external_contact",
        "del_external_contact",
        "del_follow_user",
    }
)


def event_time(event: CallbackEvent) -> datetime:
    """When WeCom says the change happened (CreateTime), else when the event arrived."""
    return wecom_sync.from_unix(event.payload.get("CreateTime")) or event.received_at or timezone.now()


@event_handler("change_external_chat")
def on_chat_change(event: CallbackEvent) -> None:
    chat_id = str(event.payload.get("ChatId") or "")
    if not chat_id or event.change_type not in CHAT_CHANGES:
        return
    # Changes are dated when the group is read: the event may be older than what the read shows.
    wecom_sync.chat_sync(chat_id=chat_id, observed_at=timezone.now())
    if event.payload.get("UpdateDetail") == "del_member":
        left = event.payload.get("MemChangeList") or []
        wecom_sync.members_left_at(
            chat_id=chat_id, userids=left if isinstance(left, list) else [left], at=event_time(event)
        )


@event_handler("change_external_contact")
def on_contact_change(event: CallbackEvent) -> None:
    external_userid = str(event.payload.get("ExternalUserID") or "")
    if not external_userid or event.change_type not in CONTACT_CHANGES:
        return
    wecom_sync.external_contact_recheck(
        external_userid=external_userid, followed_by=str(event.payload.get("UserID") or "")
    )
