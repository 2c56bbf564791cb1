"""The contact log (联系记录): recording a contact with a customer."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.text import is_text
from core.validation import check_field_names, full_clean_or_raise, is_future
from customers.interactions.ticket_links import visible_ticket_number
from customers.models import Customer, Interaction


def interaction_suggests_ticket(interaction: Interaction) -> bool:
    """An angry sensitive customer (seed 000 §03): a work order is suggested so the matter is tracked."""
    return interaction.mood == Interaction.Mood.ANGRY and interaction.customer.needs_one_to_one


@transaction.atomic
def interaction_log(
    *, customer: Customer, staff: User, created_by: User | None = None, **fields: Any
) -> Interaction:
    """Record one contact with a customer.

    The contact time is required and not in the future; the summary is
    required; the next follow-up date, when given, is not before the contact.
    The seven steps of seed 000 §04 are optional ticks. A work-order number,
    when given, names an order the user (`created_by`) may see, and is kept
    as the order spells it.
    """
    check_field_names(fields, Interaction.LOG_FIELDS)
    fields["summary"] = (fields.get("summary") or "").strip()
    fields["ticket_number"] = (fields.get("ticket_number") or "").strip()
    errors: dict[str, list[str]] = {}
    number = fields["ticket_number"]
    # What is not text or too long for a number is the model's to refuse (no lookup with a NUL).
    if number and is_text(number) and len(number) <= Interaction.TICKET_NUMBER_LENGTH:
        found = visible_ticket_number(user=created_by or staff, number=number)
        if found is None:
            # One answer for an order that does not exist and one out of sight: no existence oracle.
            errors["ticket_number"] = [_("工单不存在或无权查看。")]
        else:
            fields["ticket_number"] = found
    interaction = Interaction(customer=customer, staff=staff, created_by=created_by or staff, **fields)
    occurred_at = interaction.occurred_at
    if occurred_at is None:
        errors["occurred_at"] = [_("请填写联系时间。")]
    elif is_future(occurred_at):
        errors["occurred_at"] = [_("联系时间不能晚于当前时间。")]
    if not interaction.summary:
        errors["summary"] = [_("请填写联系内容。")]
    follow_up = interaction.next_follow_up
    if follow_up and occurred_at and follow_up < timezone.localtime(occurred_at).date():
        errors["next_follow_up"] = [_("下次跟进日期不能早于联系日期。")]
    full_clean_or_raise(interaction, errors)
    interaction.save()
    return interaction
