"""What the WeCom connection did last, for the status page (admin: 企业微信连接状态).

Others report through `mark`: `mark("reconcile", at=now, groups=42)`,
`mark("archive", seq=1234)`, `mark_error("reconcile", "errcode 40050")`. Values
must be JSON: datetimes and dates are stored as ISO text. A mark replaces the
values of its key: the last word wins.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from wecom.client import AGENT, CONTACT, WeComClient
from wecom.models import CallbackEvent, StatusMark

ERROR_KEY = "error"
ERROR_MAX_LENGTH = 200


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def mark(key: str, **values: Any) -> None:
    """Record the latest state of `key` (e.g. "reconcile", "archive")."""
    if not key or len(key) > StatusMark._meta.get_field("key").max_length:
        raise ValueError("a status key is 1 to 32 characters")
    StatusMark.objects.update_or_create(
        key=key, defaults={"values": _json(values), "updated_at": timezone.now()}
    )


def mark_error(source: str, message: str) -> None:
    """The last error of the connection; `message` names the failure, never content or secrets."""
    mark(ERROR_KEY, source=source, message=str(message)[:ERROR_MAX_LENGTH], at=timezone.now())


def marks() -> dict[str, dict]:
    return {row.key: {**row.values, "updated_at": row.updated_at} for row in StatusMark.objects.all()}


def snapshot() -> dict:
    """Everything the status page shows, in a fixed number of queries."""
    tokens = []
    for kind in (AGENT, CONTACT):
        client = WeComClient(kind)
        state = client.token_state()
        expires_at = (
            datetime.fromtimestamp(state.expires_at, tz=timezone.get_current_timezone())
            if state.expires_at
            else None
        )
        tokens.append(
            {"kind": kind, "configured": client.configured, "cached": state.cached, "expires_at": expires_at}
        )
    last_callback = CallbackEvent.objects.order_by("-received_at", "-id").first()
    counts = {
        status: CallbackEvent.objects.filter(status=status).count()
        for status in (CallbackEvent.Status.PENDING, CallbackEvent.Status.FAILED)
    }
    return {
        "configured": bool(settings.WECOM_CORP_ID),
        "corp_id": settings.WECOM_CORP_ID,
        "agent_id": settings.WECOM_AGENT_ID,
        "api_base": settings.WECOM_API_BASE,
        "callback_configured": bool(settings.WECOM_CALLBACK_TOKEN and settings.WECOM_CALLBACK_AES_KEY),
        "tokens": tokens,
        "last_callback": last_callback,
        "pending_callbacks": counts[CallbackEvent.Status.PENDING],
        "failed_callbacks": counts[CallbackEvent.Status.FAILED],
        "marks": marks(),
    }
