"""`POST /api/v1/customers/bulk/`: upsert up to 1,000 archives by customer number.

The body is a JSON array of items shaped like a single write (number
required). For each item:
- a live archive with that number that the user can see is changed with the
  item's fields (the others stay; `contacts`, when given, replaces the set);
  an item `version` that differs from the stored one makes the item a
  `conflict` and changes nothing of it;
- otherwise an archive is opened (the services refuse a number already taken,
  including by a deleted archive or one out of the user's scope);
- an item that fails validation or a rule is `invalid`, with its field errors.

Every item runs in its own savepoint inside one transaction: the valid items
commit together, a failed item leaves no trace. Items are applied in order of
customer number (then position), so two bulk requests lock rows in the same
order and cannot deadlock each other; an item repeating an earlier item's
number sees that item's result. The response lists every outcome in input
order with its `index`.
"""

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework import exceptions

from core.api.exceptions import error_detail
from core.text import is_text
from customers.api.serializers import CustomerWriteSerializer
from customers.models import Customer
from customers.services import ArchiveVersionConflict

MAX_ITEMS = 1000


def _number(item: Any) -> str | None:
    number = item.get("number") if isinstance(item, dict) else None
    return number if isinstance(number, str) else None


def _outcome(index: int, item: Any, status: str, *, version: int | None = None, errors=None) -> dict:
    outcome = {"index": index, "number": _number(item), "status": status, "version": version}
    if errors is not None:
        outcome["errors"] = errors
    return outcome


def _apply(index: int, item: Any, known: dict[str, Customer], context: dict) -> dict:
    if not isinstance(item, dict):
        return _outcome(index, item, "invalid", errors={"non_field_errors": [_("每一项必须是JSON对象。")]})
    number = _number(item)
    if number is None:
        return _outcome(index, item, "invalid", errors={"number": [_("请填写户号。")]})
    current = known.get(number)
    if current is None and "version" in item:
        message = _("没有该户号的客户档案（可能已被删除），未做修改。")
        return _outcome(index, item, "conflict", errors={"version": [message]})
    if current is not None:
        serializer = CustomerWriteSerializer(current, data=item, partial=True, context=context)
    else:
        serializer = CustomerWriteSerializer(data=item, context=context)
    if not serializer.is_valid():
        version = current.version if current is not None else None
        return _outcome(index, item, "invalid", version=version, errors=serializer.errors)
    try:
        with transaction.atomic():
            saved = serializer.save()
    except ArchiveVersionConflict as exc:
        message = _("客户档案已被他人修改（当前版本 %(version)d），未做修改。") % {
            "version": exc.current_version
        }
        return _outcome(index, item, "conflict", version=exc.current_version, errors={"version": [message]})
    except (DjangoValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
        version = current.version if current is not None else None
        return _outcome(index, item, "invalid", version=version, errors=error_detail(exc))
    except IntegrityError:
        return _outcome(
            index, item, "invalid", errors={"non_field_errors": [_("与同时进行的修改冲突，请重试。")]}
        )
    known[number] = saved
    if current is None:
        status = "created"
    elif saved.version == current.version:
        status = "unchanged"
    else:
        status = "updated"
    return _outcome(index, item, status, version=saved.version)


def customer_bulk_upsert(*, items: Any, context: dict) -> dict[str, Any]:
    """Apply `items` (see the module docstring); returns counts and one outcome per item in input order."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes | dict):
        raise exceptions.ValidationError({"non_field_errors": [_("请求内容必须是JSON数组。")]})
    if len(items) > MAX_ITEMS:
        raise exceptions.ValidationError(
            {
                "non_field_errors": [
                    _("一次最多提交%(max)d项，本次%(count)d项。") % {"max": MAX_ITEMS, "count": len(items)}
                ]
            }
        )
    user = context["request"].user
    # A number that is not text (NUL) is refused by the item's validation; it cannot be looked up.
    numbers = {number for number in map(_number, items) if number and is_text(number)}
    known = {
        customer.number: customer
        for customer in Customer.objects.visible_to(user)
        .select_related("station", "district", "line", "manager")
        .filter(number__in=numbers)
    }
    order = sorted(range(len(items)), key=lambda index: (_number(items[index]) or "", index))
    outcomes: list[dict | None] = [None] * len(items)
    with transaction.atomic():
        for index in order:
            outcomes[index] = _apply(index, items[index], known, context)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    for outcome in outcomes:
        status = outcome["status"]
        counts[status if status in counts else "failed"] += 1
    return {**counts, "results": outcomes}
