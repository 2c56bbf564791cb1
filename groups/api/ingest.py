"""The body of POST /api/v1/groups/{id}/messages/: check each item's format, then hand the
well-formed ones to groups.services.ingest.messages_ingest and report every item's outcome."""

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from accounts.models import User
from groups.api.serializers import GroupMessageIngestItemSerializer
from groups.models import ServiceGroup
from groups.services.ingest import INGEST_MAX_ITEMS, IngestItem, messages_ingest

OUTCOMES = ("created", "duplicate", "rejected")


def _check_batch(data: Any) -> list:
    if not isinstance(data, list):
        raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [_("请求内容必须是JSON数组。")]})
    if len(data) > INGEST_MAX_ITEMS:
        message = _("一次最多提交%(max)d项，本次%(count)d项。") % {
            "max": INGEST_MAX_ITEMS,
            "count": len(data),
        }
        raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
    return data


def _raw_external_id(raw: Any) -> str | None:
    value = raw.get("external_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def messages_ingest_batch(*, group: ServiceGroup, by: User, data: Any) -> dict[str, Any]:
    """Each item's outcome in request order, with the counts of each outcome."""
    batch = _check_batch(data)
    items: list[IngestItem] = []
    malformed: dict[int, dict] = {}
    for index, raw in enumerate(batch):
        serializer = GroupMessageIngestItemSerializer(data=raw)
        if serializer.is_valid():
            items.append(serializer.to_item(index))
        else:
            malformed[index] = serializer.errors
    outcomes = {outcome.index: outcome for outcome in messages_ingest(group=group, by=by, items=items)}
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(batch):
        if index in malformed:
            row = {"index": index, "external_id": _raw_external_id(raw), "status": "rejected", "id": None}
            row["errors"] = malformed[index]
        else:
            outcome = outcomes[index]
            row = {
                "index": index,
                "external_id": outcome.external_id,
                "status": outcome.status,
                "id": outcome.message_id,
            }
            if outcome.answered is not None:
                row["answered"] = outcome.answered
            if outcome.errors:
                row["errors"] = outcome.errors
        results.append(row)
    counts = {name: sum(row["status"] == name for row in results) for name in OUTCOMES}
    if results and counts["rejected"] == len(results):
        # Nothing stored and nothing already there: the request as a whole was bad input,
        # so it is a 400 like any other, each item's errors under its position.
        raise ValidationError({str(row["index"]): row["errors"] for row in results})
    return {**counts, "results": results}
