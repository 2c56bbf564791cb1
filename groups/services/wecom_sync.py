"""Customer groups kept in step with WeCom (企业微信), both ways, by chat_id.

One code path: `chat_sync(chat_id)` reads the group with groupchat/get and
`chat_apply` makes the CRM match it; the callback handlers (groups/wecom_events.py)
and the periodic reconcile (`groups_reconcile`) both call it, so an event
processed twice, or a reconcile after an event, changes nothing more.

The rules, in one place:
- A group belongs to the user whose `wecom_userid` is the owner's userid; its
  unit follows the owner. A group whose owner no user carries is kept aside
  (WeComChat, status 群主未绑定, listed in the admin) and taken up by a later
  reconcile once a user has that userid. An owner change in WeCom moves the
  group to the new owner when the CRM knows them.
- A new group's kind (`kind_for_new_chat`): 台区群 when its name contains
  the name of a district the owner sees (the longest such name; the district
  is set), 公共服务群 when it names a public body (村、社区、居委、政府、街道、镇),
  otherwise VIP客户群. The manager may change kind and area afterwards.
- Name and 群公告 follow WeCom; a dismissed group is archived.
- Members: staff link by User.wecom_userid, customers by
  Contact.wecom_external_userid. Membership rows carry WeCom's join_time and
  the time the leave was seen (when the group was read), or the time of
  WeCom's del_member event for the members it names. Members the CRM cannot
  name are UnlinkedMember rows; the group page lists the external ones as
  未关联成员 for the manager to link by hand.
  The diff is set-based: a fixed number of queries per group, whatever its size.
- An unlinked customer is matched by the mobiles the group's owner recorded
  for them in WeCom (externalcontact/get, follow_user.remark_mobiles) against
  the mobiles of contacts of customers the owner sees; exactly one contact
  must match. WeCom sends no event when only remark_mobiles change, so each
  reconcile checks again the rows checked longest ago, within a budget of
  calls (WECOM_REMARK_LOOKUPS_PER_RUN).
- A contact keeps its link while WeCom knows the external contact or the
  person is still in one of the synced groups (`external_contact_recheck`).
- In a group synced from WeCom, WeCom is the truth for members: someone added
  in the CRM only is closed at the next sync. A group without a chat id is
  the CRM's alone and untouched here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Contact, Customer, District
from customers.services import contact_link_wecom, contacts_unlink_wecom
from groups.models import (
    GroupKind,
    Membership,
    ServiceGroup,
    UnlinkedMember,
    WeComChat,
    WeComChatStatus,
)
from groups.services.groups import INSERT_BATCH, require_manager
from wecom import status
from wecom.client import WeComClient, WeComError, WeComException, WeComTransientError

logger = logging.getLogger(__name__)

STAFF, EXTERNAL = UnlinkedMember.Kind.STAFF, UnlinkedMember.Kind.EXTERNAL
# WeCom's answers: an unknown or dismissed chat; someone who is nobody's external contact.
INVALID_CHAT_ID = 40050
NOT_EXTERNAL_CONTACT = 84061
PUBLIC_BODY_WORDS = ("村", "社区", "居委", "政府", "街道", "镇")
# Unlinked customers matched right after a callback (the reconcile has its own budget).
CALLBACK_REMARK_LOOKUPS = 20
NAME_MAX = 100


# --- WeCom's view of a group ----------------------------------------------------------------


@dataclass(frozen=True)
class MemberState:
    userid: str
    kind: int
    joined_at: datetime
    name: str = ""
    group_nickname: str = ""


@dataclass(frozen=True)
class ChatState:
    """A group as groupchat/get describes it."""

    chat_id: str
    name: str
    owner_userid: str
    notice: str
    created_at: datetime | None
    members: tuple[MemberState, ...]

    @classmethod
    def from_api(cls, data: dict, *, observed_at: datetime) -> ChatState:
        members = {}
        for item in data.get("member_list") or []:
            userid = str(item.get("userid") or "")
            if not userid or userid in members:
                continue
            members[userid] = MemberState(
                userid=userid,
                kind=STAFF if int(item.get("type") or EXTERNAL) == STAFF else EXTERNAL,
                joined_at=from_unix(item.get("join_time")) or observed_at,
                name=str(item.get("name") or "")[:NAME_MAX],
                group_nickname=str(item.get("group_nickname") or "")[:NAME_MAX],
            )
        return cls(
            chat_id=str(data.get("chat_id") or ""),
            name=str(data.get("name") or "").strip()[:NAME_MAX],
            owner_userid=str(data.get("owner") or ""),
            notice=str(data.get("notice") or "").strip(),
            created_at=from_unix(data.get("create_time")),
            members=tuple(members.values()),
        )


def from_unix(value) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


# --- Applying one group -------------------------------------------------------------------


@dataclass
class ChatOutcome:
    chat_id: str
    group_id: int | None = None
    created: bool = False
    dismissed: bool = False
    owner_unknown: bool = False
    joined: int = 0
    left: int = 0
    unlinked: int = 0


def kind_for_new_chat(*, name: str, owner: User) -> tuple[str, District | None]:
    """The kind (and district) a group new from WeCom starts with; see the module's rules."""
    district = (
        District.objects.visible_to(owner)
        .alias(chat_name=Value(name), name_length=Length("name"))
        .filter(chat_name__contains=F("name"), name_length__gt=0)
        .order_by("-name_length", "id")
        .first()
    )
    if district is not None:
        return GroupKind.DISTRICT, district
    if any(word in name for word in PUBLIC_BODY_WORDS):
        return GroupKind.PUBLIC, None
    return GroupKind.VIP, None


def _owner_for(userid: str) -> User | None:
    if not userid:
        return None
    return (
        User.objects.filter(wecom_userid=userid, is_active=True, org_unit__isnull=False)
        .select_related("org_unit")
        .first()
    )


def _new_group(state: ChatState, owner: User) -> ServiceGroup:
    kind, district = kind_for_new_chat(name=state.name, owner=owner)
    group = ServiceGroup(
        name=state.name or state.chat_id,
        kind=kind,
        district=district,
        owner=owner,
        org_unit_id=owner.org_unit_id,
        rules=state.notice or _("本群由企业微信同步建立，请负责人补充群规。"),
        announcement=state.notice,
        external_id=state.chat_id,
        created_at=state.created_at or timezone.now(),
    )
    group.save()
    return group


def _linked_contacts(external_userids: Iterable[str]) -> dict[str, int]:
    """external_userid → the contact that carries it (of a live archive)."""
    rows = (
        Contact.objects.filter(
            wecom_external_userid__in=list(external_userids), customer__deleted_at__isnull=True
        )
        .order_by("id")
        .values_list("wecom_external_userid", "pk")
    )
    found: dict[str, int] = {}
    for userid, pk in rows:
        found.setdefault(userid, pk)
    return found


def _sync_members(group: ServiceGroup, state: ChatState, observed_at: datetime, outcome: ChatOutcome) -> None:
    """Make the group's active memberships and unlinked rows match WeCom's member list."""
    staff = {m.userid: m for m in state.members if m.kind == STAFF}
    external = {m.userid: m for m in state.members if m.kind == EXTERNAL}
    users = dict(
        User.objects.filter(wecom_userid__in=list(staff), is_active=True).values_list("wecom_userid", "pk")
    )
    contacts = _linked_contacts(external)
    wanted: dict[tuple[str, int], datetime] = {}
    for userid, pk in users.items():
        wanted[("user", pk)] = staff[userid].joined_at
    for userid, pk in contacts.items():
        wanted.setdefault(("contact", pk), external[userid].joined_at)
    current = {
        ("user", user_id) if user_id else ("contact", contact_id): pk
        for pk, user_id, contact_id in Membership.objects.active()
        .filter(group=group)
        .values_list("pk", "user_id", "contact_id")
    }
    joining = [key for key in wanted if key not in current]
    leaving = [pk for key, pk in current.items() if key not in wanted]
    Membership.objects.bulk_create(
        [Membership(group_id=group.pk, joined_at=wanted[key], **{f"{key[0]}_id": key[1]}) for key in joining],
        batch_size=INSERT_BATCH,
        ignore_conflicts=True,
    )
    if leaving:
        _close(Membership.objects.filter(pk__in=leaving), observed_at)
    # Members the CRM cannot name yet.
    unnamed = {u: m for u, m in staff.items() if u not in users} | {
        u: m for u, m in external.items() if u not in contacts
    }
    listed = dict(UnlinkedMember.objects.active().filter(group=group).values_list("userid", "pk"))
    present = staff.keys() | external.keys()
    # Still in the group but named now: the membership carries them from here.
    named_now = [pk for userid, pk in listed.items() if userid not in unnamed and userid in present]
    gone = [pk for userid, pk in listed.items() if userid not in present]
    if named_now:
        UnlinkedMember.objects.filter(pk__in=named_now).delete()
    if gone:
        _close(UnlinkedMember.objects.filter(pk__in=gone), observed_at)
    UnlinkedMember.objects.bulk_create(
        [
            UnlinkedMember(
                group_id=group.pk,
                userid=userid,
                kind=member.kind,
                name=member.name,
                group_nickname=member.group_nickname,
                joined_at=member.joined_at,
            )
            for userid, member in unnamed.items()
            if userid not in listed
        ],
        batch_size=INSERT_BATCH,
        ignore_conflicts=True,
    )
    outcome.joined, outcome.left = len(joining), len(leaving) + len(gone)
    outcome.unlinked = len(unnamed)


def _close(rows, observed_at: datetime) -> None:
    """Set the leave time, never before the join time (clocks differ)."""
    rows.filter(joined_at__lte=observed_at).update(left_at=observed_at)
    rows.filter(joined_at__gt=observed_at).update(left_at=F("joined_at"))


@transaction.atomic
def chat_apply(*, chat_id: str, state: ChatState | None, observed_at: datetime) -> ChatOutcome:
    """Make the CRM match WeCom's `state` of one group (None: WeCom says it is dismissed).

    Rows are locked (the chat's, then its group's), so a callback and the
    reconcile on the same group take turns; applying the same state twice
    changes nothing the second time.
    """
    outcome = ChatOutcome(chat_id=chat_id)
    WeComChat.objects.get_or_create(chat_id=chat_id)
    chat = WeComChat.objects.select_for_update().get(chat_id=chat_id)
    group_id = (
        chat.group_id or ServiceGroup.objects.filter(external_id=chat_id).values_list("pk", flat=True).first()
    )
    group = ServiceGroup.objects.select_for_update().get(pk=group_id) if group_id else None
    now = timezone.now()
    if state is None:
        outcome.dismissed = True
        chat.status = WeComChatStatus.DISMISSED
        chat.dismissed_at = chat.dismissed_at or observed_at
        if group is not None and group.archived_at is None:
            group.archived_at = observed_at
            group.save(update_fields=["archived_at", "updated_at"])
    else:
        owner = _owner_for(state.owner_userid)
        if group is None and owner is not None:
            group = _new_group(state, owner)
            outcome.created = True
        elif group is not None:
            _follow_chat(group, state, owner)
        outcome.owner_unknown = owner is None
        if group is not None:
            _sync_members(group, state, observed_at, outcome)
        chat.status = WeComChatStatus.OWNER_UNKNOWN if owner is None else WeComChatStatus.SYNCED
        chat.name = state.name
        chat.owner_userid = state.owner_userid
        chat.member_count = len(state.members)
        chat.created_in_wecom_at = state.created_at
        chat.dismissed_at = None
    chat.group = group
    chat.synced_at = now
    chat.save()
    outcome.group_id = group.pk if group else None
    return outcome


def _follow_chat(group: ServiceGroup, state: ChatState, owner: User | None) -> None:
    changed = []
    if state.name and group.name != state.name:
        group.name = state.name
        changed.append("name")
    if group.announcement != state.notice:
        group.announcement = state.notice
        changed.append("announcement")
    if owner is not None and group.owner_id != owner.pk:
        group.owner = owner
        group.org_unit_id = owner.org_unit_id
        changed += ["owner", "org_unit"]
    if changed:
        group.save(update_fields=[*changed, "updated_at"])


def members_left_at(*, chat_id: str, userids: Iterable[str], at: datetime) -> int:
    """WeCom's del_member event says when these members left: an earlier time than the
    sync saw (it reads the group later) replaces the recorded one. Idempotent."""
    userids = [userid for userid in userids if userid]
    if not userids:
        return 0
    stint = {"group__external_id": chat_id, "left_at__gt": at, "joined_at__lte": at}
    fixed = UnlinkedMember.objects.filter(userid__in=userids, **stint).update(left_at=at)
    fixed += Membership.objects.filter(user__wecom_userid__in=userids, **stint).update(left_at=at)
    fixed += Membership.objects.filter(contact__wecom_external_userid__in=userids, **stint).update(left_at=at)
    return fixed


# --- Reading WeCom -------------------------------------------------------------------------


def _client(client: WeComClient | None) -> WeComClient:
    return client or WeComClient.contact()


def chat_sync(
    *,
    chat_id: str,
    observed_at: datetime | None = None,
    client: WeComClient | None = None,
    remark_lookups: int = CALLBACK_REMARK_LOOKUPS,
) -> ChatOutcome:
    """Read one group from WeCom (groupchat/get) and apply it; 40050 means dismissed.

    Raises the client's errors otherwise (a transient one: try again later).
    """
    client = _client(client)
    observed_at = observed_at or timezone.now()
    try:
        data = client.groupchat_get(chat_id)
    except WeComError as exc:
        if exc.errcode != INVALID_CHAT_ID:
            raise
        data = None
    state = ChatState.from_api(data, observed_at=observed_at) if data else None
    outcome = chat_apply(chat_id=chat_id, state=state, observed_at=observed_at)
    if remark_lookups and outcome.group_id and outcome.unlinked:
        rows = UnlinkedMember.objects.active().filter(group_id=outcome.group_id)
        unlinked_members_match(rows=rows, client=client, budget=remark_lookups)
    return outcome


# --- Linking customers ------------------------------------------------------------------------


def external_userid_relink(*, external_userid: str) -> int:
    """Turn every active unlinked row of a now-linked customer into a membership (join time kept).

    Returns how many memberships were made. Set-based over all groups.
    """
    contact_id = _linked_contacts([external_userid]).get(external_userid)
    if contact_id is None:
        return 0
    with transaction.atomic():
        rows = list(
            UnlinkedMember.objects.select_for_update()
            .active()
            .filter(userid=external_userid, kind=EXTERNAL)
            .values_list("pk", "group_id", "joined_at")
        )
        if not rows:
            return 0
        already = set(
            Membership.objects.active()
            .filter(contact_id=contact_id, group_id__in=[group_id for _pk, group_id, _at in rows])
            .values_list("group_id", flat=True)
        )
        made = Membership.objects.bulk_create(
            [
                Membership(group_id=group_id, contact_id=contact_id, joined_at=joined_at)
                for _pk, group_id, joined_at in rows
                if group_id not in already
            ],
            batch_size=INSERT_BATCH,
            ignore_conflicts=True,
        )
        UnlinkedMember.objects.filter(pk__in=[pk for pk, _group, _at in rows]).delete()
    return len(made)


def external_userid_unlink(*, external_userid: str, at: datetime | None = None) -> int:
    """Forget a customer's link: their memberships in synced groups become unlinked rows again."""
    at = at or timezone.now()
    with transaction.atomic():
        contact_ids = contacts_unlink_wecom(external_userid=external_userid)
        memberships = list(
            Membership.objects.select_for_update()
            .active()
            .filter(contact_id__in=contact_ids, group__wecom_chat__isnull=False)
            .select_related("contact")
        )
        if not memberships:
            return 0
        _close(Membership.objects.filter(pk__in=[m.pk for m in memberships]), at)
        UnlinkedMember.objects.bulk_create(
            [
                UnlinkedMember(
                    group_id=m.group_id,
                    userid=external_userid,
                    kind=EXTERNAL,
                    name=m.contact.name,
                    joined_at=m.joined_at,
                )
                for m in memberships
            ],
            ignore_conflicts=True,
        )
    return len(memberships)


def _remark_mobiles(data: dict, owner_userid: str) -> list[str]:
    """The mobiles the owner recorded for the customer; the other followers' when the owner has none."""
    follows = data.get("follow_user") or []
    owners = [f for f in follows if f.get("userid") == owner_userid]
    for candidates in (owners, follows):
        mobiles = {
            str(m).strip() for f in candidates for m in (f.get("remark_mobiles") or []) if str(m).strip()
        }
        if mobiles:
            return sorted(mobiles)
    return []


def _contact_by_mobiles(mobiles: list[str], owner: User) -> Contact | None:
    """The one unlinked contact, of a customer the owner sees, whose mobile is among `mobiles`."""
    if not mobiles:
        return None
    matches = list(
        Contact.objects.filter(
            mobile__in=mobiles,
            wecom_external_userid="",
            customer__in=Customer.objects.visible_to(owner),
        ).select_related("customer")[:2]
    )
    return matches[0] if len(matches) == 1 else None


@dataclass
class MatchResult:
    checked: int = 0
    linked: int = 0
    stopped: str = ""
    linked_userids: list[str] = field(default_factory=list)


def unlinked_members_match(
    *, rows, client: WeComClient | None = None, budget: int, recheck_before: datetime | None = None
) -> MatchResult:
    """Match unlinked customers of `rows` by their owner's remark_mobiles; at most `budget` calls.

    Rows never checked, or (with `recheck_before`) last checked before it, are
    looked up, those checked longest ago first, each external_userid once; a
    transient error stops the run (the rest wait for the next one).
    """
    client = _client(client)
    result = MatchResult()
    if budget <= 0:
        return result
    due = Q(mobiles_checked_at__isnull=True)
    if recheck_before is not None:
        due |= Q(mobiles_checked_at__lt=recheck_before)
    candidates = (
        rows.filter(due, kind=EXTERNAL, left_at__isnull=True)
        .order_by(F("mobiles_checked_at").asc(nulls_first=True), "id")
        .values_list("userid", "group__owner__wecom_userid", "group__owner_id")
    )
    seen: dict[str, tuple[str, int]] = {}
    for userid, owner_userid, owner_id in candidates[: budget * 4]:
        if userid not in seen:
            seen[userid] = (owner_userid or "", owner_id)
        if len(seen) >= budget:
            break
    owners = User.objects.select_related("org_unit").in_bulk({owner_id for _u, owner_id in seen.values()})
    checked: list[str] = []
    for userid, (owner_userid, owner_id) in seen.items():
        try:
            data = client.external_contact_get(userid)
        except WeComTransientError as exc:
            result.stopped = exc.reason
            break
        except WeComError as exc:
            if exc.errcode != NOT_EXTERNAL_CONTACT:
                result.stopped = f"errcode {exc.errcode}"
                break
            data = {}
        checked.append(userid)
        contact = _contact_by_mobiles(_remark_mobiles(data, owner_userid), owners[owner_id])
        if contact is None:
            continue
        try:
            contact_link_wecom(contact=contact, external_userid=userid)
        except ValidationError:
            continue  # linked meanwhile by someone else: the next sync reads it
        external_userid_relink(external_userid=userid)
        result.linked += 1
        result.linked_userids.append(userid)
    if checked:
        UnlinkedMember.objects.filter(userid__in=checked).update(mobiles_checked_at=timezone.now())
    result.checked = len(checked)
    return result


def external_contact_recheck(
    *, external_userid: str, followed_by: str = "", client: WeComClient | None = None
) -> str:
    """After WeCom's change_external_contact: link, keep or unlink one customer.

    An unlinked customer is matched by the remark_mobiles of the staff member
    the event names (or any follower). A linked one stays linked while WeCom
    knows them or they are in a synced group; otherwise the link is dropped.
    Returns what was done: "linked", "unlinked" or "".
    """
    client = _client(client)
    linked = bool(_linked_contacts([external_userid]))
    try:
        data = client.external_contact_get(external_userid)
    except WeComError as exc:
        if exc.errcode != NOT_EXTERNAL_CONTACT:
            raise
        data = None
    if linked:
        in_groups = Membership.objects.active().filter(
            contact__wecom_external_userid=external_userid, group__wecom_chat__isnull=False
        )
        if data is None and not in_groups.exists():
            contacts_unlink_wecom(external_userid=external_userid)
            return "unlinked"
        return ""
    if data is None:
        return ""
    owner = _owner_for(followed_by) or next(
        (user for f in data.get("follow_user") or [] if (user := _owner_for(str(f.get("userid") or "")))),
        None,
    )
    if owner is None:
        return ""
    contact = _contact_by_mobiles(_remark_mobiles(data, owner.wecom_userid), owner)
    if contact is None:
        return ""
    contact_link_wecom(contact=contact, external_userid=external_userid)
    external_userid_relink(external_userid=external_userid)
    UnlinkedMember.objects.filter(userid=external_userid).update(mobiles_checked_at=timezone.now())
    return "linked"


def unlinked_member_link(*, member: UnlinkedMember, contact: Contact, by: User) -> int:
    """The manager names an unlinked customer of their group: `contact` becomes that person.

    Only a manager of the group may, with a contact of a customer they see;
    every group that person is in follows. Returns the memberships made.
    """
    group = member.group
    require_manager(by, group)
    if member.kind != EXTERNAL or member.left_at is not None:
        raise ValidationError({"member": _("该成员已退群或不是客户，无需关联。")})
    if not Customer.objects.visible_to(by).filter(pk=contact.customer_id).exists():
        raise PermissionDenied(_("您无权关联该客户的联系人。"))
    with transaction.atomic():
        contact_link_wecom(contact=contact, external_userid=member.userid, user=by)
        made = external_userid_relink(external_userid=member.userid)
    return made


# --- The reconcile -----------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    listed: int = 0
    fetched: int = 0
    created: int = 0
    dismissed: int = 0
    owner_unknown: int = 0
    failed: int = 0
    joined: int = 0
    left: int = 0
    remark_checked: int = 0
    remark_linked: int = 0
    failures: list[str] = field(default_factory=list)


def chats_to_fetch(*, listed: set[str], now: datetime) -> list[str]:
    """The chats worth a groupchat/get: new ones, known ones WeCom no longer lists (or
    lists again after a dismissal), those not read in full for WECOM_GROUP_RESYNC_HOURS,
    and those kept aside whose owner a user now carries. Callbacks keep the rest in step."""
    stale_before = now - timedelta(hours=settings.WECOM_GROUP_RESYNC_HOURS)
    wanted: list[str] = []
    known: set[str] = set()
    aside: dict[str, list[str]] = {}
    rows = WeComChat.objects.order_by("id").values_list("chat_id", "synced_at", "status", "owner_userid")
    for chat_id, synced_at, state, owner_userid in rows.iterator(chunk_size=2000):
        known.add(chat_id)
        if state == WeComChatStatus.DISMISSED:
            if chat_id in listed:
                wanted.append(chat_id)
        elif chat_id not in listed or synced_at is None or synced_at < stale_before:
            wanted.append(chat_id)
        elif state == WeComChatStatus.OWNER_UNKNOWN and owner_userid:
            aside.setdefault(owner_userid, []).append(chat_id)
    if aside:
        owners = User.objects.filter(wecom_userid__in=list(aside), is_active=True, org_unit__isnull=False)
        for owner_userid in owners.values_list("wecom_userid", flat=True):
            wanted.extend(aside[owner_userid])
    wanted.extend(sorted(listed - known))
    return wanted


def groups_reconcile(*, client: WeComClient | None = None, now: datetime | None = None) -> ReconcileResult:
    """Bring every WeCom customer group into the CRM (see the module's rules).

    Pages through groupchat/list with its cursor (a transient failure there
    raises: the task tries again), reads the chats `chats_to_fetch` names, one
    transaction each: one group failing is counted and logged, the others go
    on, and it is read again next time. Then checks unlinked customers'
    remark_mobiles within WECOM_REMARK_LOOKUPS_PER_RUN calls. Stamps the
    outcome with wecom.status.mark("reconcile", ...).
    """
    client = _client(client)
    now = now or timezone.now()
    result = ReconcileResult()
    listed = {str(item.get("chat_id")) for item in client.iter_groupchats() if item.get("chat_id")}
    result.listed = len(listed)
    for chat_id in chats_to_fetch(listed=listed, now=now):
        try:
            outcome = chat_sync(chat_id=chat_id, observed_at=now, client=client, remark_lookups=0)
        except (WeComException, DatabaseError) as exc:
            result.failed += 1
            if len(result.failures) < 20:
                result.failures.append(f"{chat_id}: {type(exc).__name__}")
            logger.warning("WeCom group %s not synced: %s", chat_id, type(exc).__name__)
            continue
        result.fetched += 1
        result.created += int(outcome.created)
        result.dismissed += int(outcome.dismissed)
        result.owner_unknown += int(outcome.owner_unknown)
        result.joined += outcome.joined
        result.left += outcome.left
    match = unlinked_members_match(
        rows=UnlinkedMember.objects.all(),
        client=client,
        budget=settings.WECOM_REMARK_LOOKUPS_PER_RUN,
        recheck_before=now - timedelta(hours=settings.WECOM_GROUP_RESYNC_HOURS),
    )
    result.remark_checked, result.remark_linked = match.checked, match.linked
    status.mark(
        "reconcile",
        at=now,
        listed=result.listed,
        fetched=result.fetched,
        created=result.created,
        dismissed=result.dismissed,
        owner_unknown=result.owner_unknown,
        failed=result.failed,
        remark_checked=result.remark_checked,
        remark_linked=result.remark_linked,
    )
    if result.failed:
        status.mark_error("reconcile", f"{result.failed} groups not synced: {'; '.join(result.failures[:3])}")
    return result
