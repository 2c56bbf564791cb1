"""The channel policy: how each customer hears a notice. Never silent.

The one place that decides (README, "Who is told how"):

Sensitive and VIP customers (customers.models.sensitive_q) are always told
personally, never only through a group:
  1. e-mail when their contact prefers it and has an address;
  2. WeCom one-to-one when a contact is an external contact of their manager
     (contact.wecom_external_userid set, the customer's manager — else the
     district's — has a wecom_userid, and WeCom is configured): a 群发 of
     chat_type "single" from that manager, confirmed by them in WeCom; free,
     and from someone the customer knows;
  3. SMS to a contact with a mobile — the primary contact first, then any other;
  4. otherwise a phone-call task for the district's (or the customer's) manager.
  On an urgent notice (a fault outage) a high-sensitivity (高敏) customer gets a
  phone-call task as well, beside the personal message.

Everybody else:
  1. a group post when a WeCom-linked group (ServiceGroup.external_id set) got
     the post: one of their contacts is an active member of it, or the group is
     the 台区群 of their district or the 线路群 of their line (or their district's
     line). A group kept only in the CRM reaches nobody;
  2. e-mail when preferred, else WeCom one-to-one as above, else SMS to a
     contact with a mobile;
  4. a phone-call task when the customer is residential and in a district
     (the district's manager calls; any phone, landline included, will do);
  5. otherwise 无法触达, with the reason.

Fallback, once per record: a group post not sent (or not confirmed within
REACH_GROUP_POST_DEADLINE_MINUTES, or refused at the group's monthly limit), a
WeCom one-to-one not sent (or not confirmed in that time), a failed SMS or
e-mail moves to the next channel of the lists above (below the one that
failed). A group post that failed skips WeCom one-to-one: it waited for a
confirmation once already. If that one fails too, the record
stays failed and is counted as untold on the outage page.

One SMS per customer and notice: the outbox key is `<prefix>customer:<id>`
whatever the number of contacts.

The group rule and the SMS also exist set-based (`group_covered`,
`sms_only`): a fan-out decides those customers in the database and runs
`choose` for the rest only (e-mail, WeCom one-to-one, no mobile). They read
the same inputs in the same order (a group: member first — the primary
contact first, then the lowest group id —, then the district's group, then the
line's; an SMS: the primary contact with a mobile first), and a test holds
them equal to `choose`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from customers.models import Contact, Customer, sensitive_q
from groups.models import Membership
from reach.models import CallState, Channel, Reason, State

# Channels in the order a fallback walks them.
RANK = {
    Channel.GROUP: 0,
    Channel.EMAIL: 1,
    Channel.WECOM: 2,
    Channel.SMS: 3,
    Channel.CALL: 4,
    Channel.NONE: 5,
}


@dataclass(frozen=True)
class Posts:
    """The WeCom-linked group posts a notice made: group id → broadcast id, and what each covers."""

    broadcasts: dict[int, int]
    by_district: dict[int, int]
    by_line: dict[int, int]

    @classmethod
    def none(cls) -> Posts:
        return cls({}, {}, {})


@dataclass
class Choice:
    channel: str
    reason: str
    state: str
    contact: dict | None = None
    group_id: int | None = None
    broadcast_id: int | None = None
    call_state: str = CallState.NONE
    call_assignee_id: int | None = None
    # WeCom one-to-one: the manager who sends it (user id, WeCom userid).
    sender: tuple[int, str] | None = None


def customer_rows(customer_ids: list[int]) -> dict[int, dict]:
    """What the policy needs to know of each customer; one query."""
    rows = (
        Customer.all_objects.filter(pk__in=customer_ids)
        .annotate(one_to_one=ExpressionWrapper(sensitive_q(), output_field=BooleanField()))
        .values(
            "pk",
            "kind",
            "station_id",
            "district_id",
            "line_id",
            "district__line_id",
            "manager_id",
            "district__manager_id",
            "manager__wecom_userid",
            "district__manager__wecom_userid",
            "is_high_sensitivity",
            "one_to_one",
        )
    )
    return {row["pk"]: row for row in rows}


def contact_rows(customer_ids: list[int]) -> dict[int, list[dict]]:
    """Each customer's contacts, the primary first; one query."""
    contacts: dict[int, list[dict]] = {}
    rows = (
        Contact.objects.filter(customer_id__in=customer_ids)
        .order_by("customer_id", "-is_primary", "id")
        .values(
            "id",
            "customer_id",
            "name",
            "mobile",
            "landline",
            "email",
            "preferred_channel",
            "wecom_external_userid",
        )
    )
    for row in rows:
        contacts.setdefault(row["customer_id"], []).append(row)
    return contacts


def member_groups(contact_ids: list[int], group_ids: list[int]) -> dict[int, int]:
    """Contact id → one posted group they are an active member of; one query (none without posts)."""
    if not group_ids or not contact_ids:
        return {}
    rows = (
        Membership.objects.filter(contact_id__in=contact_ids, group_id__in=group_ids, left_at__isnull=True)
        .order_by("contact_id", "group_id")
        .values_list("contact_id", "group_id")
    )
    found: dict[int, int] = {}
    for contact_id, group_id in rows:
        found.setdefault(contact_id, group_id)
    return found


def group_covered(customer_ids, posts: Posts):
    """The customers of `customer_ids` a group post reaches, set-based: those not
    told one to one, with `member_group` (a posted group one of their contacts
    is an active member of) and `area_group` (their district's, else their
    line's, posted group) — the same order as `_covering_group`. A queryset of
    (pk, station_id, member_group, area_group); None without posts."""
    if not posts.broadcasts:
        return None
    member = (
        Membership.objects.filter(
            contact__customer_id=OuterRef("pk"), group_id__in=list(posts.broadcasts), left_at__isnull=True
        )
        .order_by("-contact__is_primary", "contact_id", "group_id")
        .values("group_id")[:1]
    )
    area = [When(district_id=district, then=Value(group)) for district, group in posts.by_district.items()]
    area += [When(line_id=line, then=Value(group)) for line, group in posts.by_line.items()]
    area += [When(district__line_id=line, then=Value(group)) for line, group in posts.by_line.items()]
    return (
        Customer.all_objects.filter(pk__in=customer_ids)
        .exclude(sensitive_q())
        .annotate(
            member_group=Subquery(member, output_field=IntegerField()),
            area_group=Case(*area, default=None, output_field=IntegerField()),
        )
        .values("pk", "station_id", "member_group", "area_group")
    )


def sms_only(customer_ids, *, wecom: bool, urgent: bool = False):
    """Of `customer_ids` (none of them covered by a group post: decide those first), the
    customers `choose` sends an SMS and nothing else personal: no contact preferring
    e-mail with an address, no WeCom external contact when WeCom is configured, a
    contact with a mobile (`sms_contact`, the primary first). Sensitive customers too
    (`one_to_one`: the reason differs); on an `urgent` notice a high-sensitivity one
    gets a phone call as well, by `call_assignee` (the responsible manager; none without).
    A queryset of (pk, station_id, sms_contact, one_to_one, call_assignee)."""
    contacts = Contact.objects.filter(customer_id=OuterRef("pk"))
    mobiles = contacts.exclude(mobile="")
    # Filtered by EXISTS, not by the annotation: the database would evaluate that subquery twice.
    customers = (
        Customer.all_objects.filter(pk__in=customer_ids)
        .filter(Exists(mobiles))
        .exclude(Exists(contacts.filter(preferred_channel=Contact.Channel.EMAIL).exclude(email="")))
    )
    if wecom:
        customers = customers.exclude(Exists(contacts.exclude(wecom_external_userid="")))
    # `responsible_manager`, called when `choose` adds a call for a high-sensitivity customer.
    caller = Cast(Value(None), IntegerField())
    if urgent:
        caller = Case(
            When(
                sensitive_q() & Q(is_high_sensitivity=True),
                then=Coalesce(F("district__manager_id"), F("manager_id")),
            ),
            default=None,
            output_field=IntegerField(),
        )
    return customers.annotate(
        sms_contact=Subquery(
            mobiles.order_by("-is_primary", "id").values("id")[:1], output_field=IntegerField()
        ),
        one_to_one=ExpressionWrapper(sensitive_q(), output_field=BooleanField()),
        call_assignee=caller,
    ).values("pk", "station_id", "sms_contact", "one_to_one", "call_assignee")


def responsible_manager(customer: dict) -> int | None:
    """Who phones: the district's account manager, else the customer's own."""
    return customer["district__manager_id"] or customer["manager_id"]


def one_to_one_sender(customer: dict) -> tuple[int, str] | None:
    """Who sends a WeCom one-to-one: the customer's manager, else the district's, with a WeCom account."""
    if customer["manager_id"] and customer["manager__wecom_userid"]:
        return customer["manager_id"], customer["manager__wecom_userid"]
    if customer["district__manager_id"] and customer["district__manager__wecom_userid"]:
        return customer["district__manager_id"], customer["district__manager__wecom_userid"]
    return None


def _covering_group(customer: dict, contacts: list[dict], posts: Posts, members: dict[int, int]):
    for contact in contacts:
        if contact["id"] in members:
            return members[contact["id"]], Reason.GROUP_MEMBER
    if customer["district_id"] in posts.by_district:
        return posts.by_district[customer["district_id"]], Reason.GROUP_AREA
    for line_id in (customer["line_id"], customer["district__line_id"]):
        if line_id in posts.by_line:
            return posts.by_line[line_id], Reason.GROUP_AREA
    return None, ""


def choose(
    customer: dict,
    contacts: list[dict],
    *,
    posts: Posts,
    members: dict[int, int],
    urgent: bool,
    after: str | None = None,
    wecom: bool = False,
) -> Choice:
    """The channel for one customer. With `after`, only channels ranked below it (a fallback).
    `wecom`: WeCom is configured, so a one-to-one 群发 can go out."""
    floor = RANK[after] if after else -1
    sensitive = customer["one_to_one"]
    manager_id = responsible_manager(customer)

    def allowed(channel: str) -> bool:
        if channel == Channel.WECOM and (not wecom or after == Channel.GROUP):
            return False
        return RANK[channel] > floor

    choice: Choice | None = None
    if not sensitive and allowed(Channel.GROUP):
        group_id, reason = _covering_group(customer, contacts, posts, members)
        if group_id:
            choice = Choice(
                Channel.GROUP,
                reason,
                State.WAITING,
                group_id=group_id,
                broadcast_id=posts.broadcasts[group_id],
            )
    if choice is None:
        choice = _personal(customer, contacts, sensitive=sensitive, manager_id=manager_id, allowed=allowed)
    if after:
        choice.reason = (
            FALLBACK_REASON.get(after, Reason.NO_FALLBACK)
            if choice.channel != Channel.NONE
            else (Reason.NO_FALLBACK)
        )
    if (
        urgent
        and not after
        and sensitive
        and customer["is_high_sensitivity"]
        and choice.channel != Channel.CALL
        and manager_id
        and contacts
    ):
        choice.call_state, choice.call_assignee_id = CallState.PENDING, manager_id
        if choice.contact is None:
            choice.contact = contacts[0]
    return choice


def _personal(customer: dict, contacts: list[dict], *, sensitive: bool, manager_id, allowed) -> Choice:
    emailer = next(
        (c for c in contacts if c["preferred_channel"] == Contact.Channel.EMAIL and c["email"]), None
    )
    mobile = next((c for c in contacts if c["mobile"]), None)
    wecom = next((c for c in contacts if c["wecom_external_userid"]), None)
    if emailer and allowed(Channel.EMAIL):
        return Choice(Channel.EMAIL, Reason.PREFERS_EMAIL, State.QUEUED, contact=emailer)
    sender = one_to_one_sender(customer) if wecom else None
    if sender and allowed(Channel.WECOM):
        return Choice(Channel.WECOM, Reason.WECOM_CONTACT, State.WAITING, contact=wecom, sender=sender)
    if mobile and allowed(Channel.SMS):
        reason = Reason.SENSITIVE_PERSONAL if sensitive else Reason.NO_GROUP
        return Choice(Channel.SMS, reason, State.QUEUED, contact=mobile)
    callable_ = contacts and manager_id and allowed(Channel.CALL)
    if callable_ and sensitive:
        return Choice(
            Channel.CALL,
            Reason.NO_MOBILE_SENSITIVE,
            State.WAITING,
            contact=contacts[0],
            call_state=CallState.PENDING,
            call_assignee_id=manager_id,
        )
    if callable_ and customer["kind"] == Customer.Kind.RESIDENT and customer["district_id"]:
        return Choice(
            Channel.CALL,
            Reason.NO_MOBILE_RESIDENT,
            State.WAITING,
            contact=contacts[0],
            call_state=CallState.PENDING,
            call_assignee_id=manager_id,
        )
    reason = Reason.NO_CHANNEL if contacts else Reason.NO_CONTACT
    return Choice(Channel.NONE, reason, State.UNREACHABLE, contact=contacts[0] if contacts else None)


FALLBACK_REASON = {
    Channel.GROUP: Reason.GROUP_NOT_SENT,
    Channel.WECOM: Reason.WECOM_NOT_SENT,
    Channel.SMS: Reason.SMS_FAILED,
    Channel.EMAIL: Reason.EMAIL_FAILED,
}
