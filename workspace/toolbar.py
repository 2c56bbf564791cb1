"""The chat toolbar (聊天工具栏): what an account manager needs beside a WeCom chat.

WeCom opens the page beside a customer group or an external contact's chat;
the page learns which through the JS-SDK and asks again with `chat_id` or
`external_userid`. It shows the customers behind the chat that the user may
see (a group often holds customers of other managers: those stay hidden),
with the badge that says they need one-to-one contact, their open work
orders and last contacts, the group's unanswered inquiries, and the reply
templates. A fixed number of queries, whatever the size of the group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.text import is_text
from customers.models import Customer, Interaction
from groups.models import GroupMessage, ServiceGroup
from groups.selectors import reply_templates
from tickets.models import Ticket

# WeCom's ids are short ASCII strings; anything else cannot name a chat.
MAX_ID_LENGTH = 64
CUSTOMER_LIMIT = 50
RECENT_CONTACTS = 5
TEMPLATE_LIMIT = 20
INQUIRY_LIMIT = 20


@dataclass
class ToolbarView:
    group: ServiceGroup | None = None
    external_userid: str = ""
    customers: list[Customer] = field(default_factory=list)
    hidden_customers: int = 0
    more_customers: int = 0
    inquiries: list[GroupMessage] = field(default_factory=list)
    recent_contacts: list[Interaction] = field(default_factory=list)
    templates: list = field(default_factory=list)


def clean_id(value: str | None) -> str:
    """A WeCom id from the query string, or "" when it cannot be one."""
    value = (value or "").strip()
    if not value or len(value) > MAX_ID_LENGTH or not is_text(value) or not value.isascii():
        return ""
    return value


def _customers(user: User, linked: Q) -> tuple[list[Customer], int, int]:
    """The visible customers matching `linked`, with their open orders; and how many were
    left out (out of the user's scope) or cut (beyond CUSTOMER_LIMIT)."""
    everyone = Customer.objects.filter(linked).distinct()
    visible = Customer.objects.visible_to(user).filter(linked).distinct()
    open_orders = Ticket.objects.visible_to(user).open().order_by("attention_due_at", "id")
    customers = list(
        visible.select_related("district", "station")
        .prefetch_related(Prefetch("tickets", queryset=open_orders, to_attr="open_orders"))
        .order_by("-vip_tier", "name", "id")[: CUSTOMER_LIMIT + 1]
    )
    more = max(len(customers) - CUSTOMER_LIMIT, 0)
    customers = customers[:CUSTOMER_LIMIT]
    hidden = max(everyone.count() - visible.count(), 0)
    return customers, hidden, more


def _recent_contacts(user: User, customers: list[Customer]) -> list[Interaction]:
    if not customers:
        return []
    return list(
        Interaction.objects.filter(customer__in=[c.pk for c in customers])
        .select_related("customer", "staff")
        .order_by("-occurred_at", "-id")[:RECENT_CONTACTS]
    )


def toolbar_for_chat(*, user: User, chat_id: str) -> ToolbarView:
    """The toolbar beside a customer group; 404 when the group is unknown or out of the user's scope."""
    chat_id = clean_id(chat_id)
    if not chat_id:
        raise Http404
    group = (
        ServiceGroup.objects.visible_to(user)
        .select_related("owner", "district", "line")
        .filter(external_id=chat_id)
        .first()
    )
    if group is None:
        raise Http404
    linked = Q(
        contacts__group_memberships__group=group,
        contacts__group_memberships__left_at__isnull=True,
    )
    customers, hidden, more = _customers(user, linked)
    inquiries = list(
        GroupMessage.objects.filter(group=group, is_inquiry=True, answered_at__isnull=True)
        .select_related("customer")
        .order_by("response_due_at", "id")[:INQUIRY_LIMIT]
    )
    now = timezone.now()
    for message in inquiries:
        message.is_overdue = bool(message.response_due_at and message.response_due_at <= now)
    return ToolbarView(
        group=group,
        customers=customers,
        hidden_customers=hidden,
        more_customers=more,
        inquiries=inquiries,
        recent_contacts=_recent_contacts(user, customers),
        templates=reply_templates(user=user, limit=TEMPLATE_LIMIT),
    )


def toolbar_for_contact(*, user: User, external_userid: str) -> ToolbarView:
    """The toolbar beside a one-to-one chat with an external contact; 404 when none of
    the customers behind that person is the user's to see."""
    external_userid = clean_id(external_userid)
    if not external_userid:
        raise Http404
    customers, hidden, more = _customers(user, Q(contacts__wecom_external_userid=external_userid))
    if not customers:
        raise Http404
    return ToolbarView(
        external_userid=external_userid,
        customers=customers,
        hidden_customers=hidden,
        more_customers=more,
        recent_contacts=_recent_contacts(user, customers),
        templates=reply_templates(user=user, limit=TEMPLATE_LIMIT),
    )
