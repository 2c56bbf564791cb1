"""Every write to service groups (客户群, seed 000 §02).

Each service takes keyword-only arguments, runs in one transaction, checks who
may act and validates before saving. Rules in brief:

- "谁建群谁负责": a group has one responsible owner; its rules (群规) are set
  when it is created; a 台区群 belongs to a district, a 线路群 to a line.
- Members are customers' contacts or staff; staff show their real-name
  identity card in the group.
- A customer's inquiry runs against a response deadline fixed when it is
  recorded (groups.health.response_due_at); the first staff reply that
  answers it stops the clock.
- A broadcast reaches important customers one-to-one as well, never only
  through the group (seed 000 §01, §03).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, User
from customers.models import SENSITIVITY_FLAGS, Contact, Customer, District, Line
from groups.health import response_due_at
from groups.models import (
    Broadcast,
    BroadcastTopic,
    GroupKind,
    GroupMessage,
    Membership,
    ReplyCategory,
    ReplyTemplate,
    ServiceGroup,
)
from groups.selectors import broadcast_groups_for, owners_for, template_units_for
from notifications.models import Notification
from notifications.services import NotificationDraft, notifications_enqueue_many

GROUP_FIELDS = frozenset(
    {"name", "kind", "owner", "rules", "announcement", "audience", "host_organization", "district", "line"}
)
INSERT_BATCH = 1000


def _check_field_names(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unexpected fields: {', '.join(sorted(unknown))}")


# --- Who may do what ----------------------------------------------------------------


def group_can_manage(*, user: User, group: ServiceGroup) -> bool:
    """The owner, a supervisor whose unit holds the group's unit, or an administrator."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_administrator or group.owner_id == user.pk:
        return True
    return bool(user.is_supervisor and user.org_unit_id and group.org_unit.is_within(user.org_unit))


def _require_manager(user: User, group: ServiceGroup) -> None:
    if not group_can_manage(user=user, group=group):
        raise PermissionDenied(_("只有群负责人、本单位主管或系统管理员可以管理该群。"))


def _require_active(group: ServiceGroup) -> None:
    if group.archived_at is not None:
        raise ValidationError(_("该群已归档，不能再修改或记录消息。"))


def _locked(group: ServiceGroup) -> ServiceGroup:
    return ServiceGroup.objects.select_for_update().select_related("org_unit", "owner").get(pk=group.pk)


# --- Groups -----------------------------------------------------------------------------


def _validate_group(group: ServiceGroup, *, by: User, owner_changed: bool) -> None:
    """The rules of a group's shape; all errors at once, by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not (group.name or "").strip():
        add("name", _("请填写群名称。"))
    if not (group.rules or "").strip():
        add("rules", _("请填写群规：建群的同时就要制定群规，并公告群内所有人共同遵守。"))
    if group.kind not in GroupKind.values:
        add("kind", _("请选择群类型。"))
    if group.kind == GroupKind.DISTRICT and not group.district_id:
        add("district", _("台区群须选择所在台区。"))
    if group.kind == GroupKind.LINE and not group.line_id:
        add("line", _("线路群须选择所在线路。"))
    if group.kind != GroupKind.DISTRICT and group.district_id:
        add("district", _("只有台区群可以选择台区。"))
    if group.kind != GroupKind.LINE and group.line_id:
        add("line", _("只有线路群可以选择线路。"))
    if group.kind == GroupKind.PUBLIC and not (group.host_organization or "").strip():
        add("host_organization", _("公共服务群请填写建群单位，例如镇政府、村委会或社区居委会。"))
    owner = group.owner if group.owner_id else None
    if owner is None or not owner.org_unit_id or not owner.is_active:
        add("owner", _("请选择在职且有所属单位的负责人。"))
    elif owner_changed and not owners_for(by).filter(pk=owner.pk).exists():
        add("owner", _("您只能为本人或本单位辖区内的人员建群。"))
    elif "kind" not in errors:
        unit = owner.org_unit
        if group.district_id and "district" not in errors and not group.district.station.is_within(unit):
            add(
                "district",
                _("台区「%(area)s」不在%(unit)s的辖区内。")
                % {"area": group.district.name, "unit": unit.name},
            )
        if group.line_id and "line" not in errors and not group.line.station.is_within(unit):
            add(
                "line",
                _("线路「%(area)s」不在%(unit)s的辖区内。") % {"area": group.line.name, "unit": unit.name},
            )
    if not errors:
        try:
            group.full_clean(exclude=["org_unit"])
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _join_staff(group: ServiceGroup, user: User) -> Membership:
    membership = Membership.objects.active().filter(group=group, user=user).first()
    if membership is None:
        membership = Membership.objects.create(group=group, user=user)
    return membership


@transaction.atomic
def group_create(
    *,
    by: User,
    name: str,
    kind: str,
    rules: str,
    owner: User | None = None,
    announcement: str = "",
    audience: str = "",
    host_organization: str = "",
    district: District | None = None,
    line: Line | None = None,
    external_id: str = "",
) -> ServiceGroup:
    """Open a group. Its rules (群规) are required; a 台区群 needs a district and
    a 线路群 a line inside the owner's unit; a 公共服务群 names who set it up.

    The owner (default: the creator; a supervisor may name someone in their
    subtree) answers for the group and joins it at once as a staff member.
    """
    owner = owner or by
    group = ServiceGroup(
        name=(name or "").strip(),
        kind=kind,
        rules=(rules or "").strip(),
        announcement=(announcement or "").strip(),
        audience=(audience or "").strip(),
        host_organization=(host_organization or "").strip(),
        owner=owner,
        district=district,
        line=line,
        external_id=external_id,
        created_by=by,
    )
    _validate_group(group, by=by, owner_changed=True)
    group.org_unit_id = owner.org_unit_id
    group.save()
    _join_staff(group, owner)
    return group


@transaction.atomic
def group_update(*, group: ServiceGroup, by: User, **fields: Any) -> ServiceGroup:
    """Change a group under the rules of `group_create` (the rules stay required).

    Only its manager may. A new owner moves the group to the owner's unit
    and joins it as a staff member; the former owner stays a member.
    """
    _check_field_names(fields, GROUP_FIELDS)
    current = _locked(group)
    _require_manager(by, current)
    _require_active(current)
    for name in ("name", "rules", "announcement", "audience", "host_organization"):
        if name in fields:
            fields[name] = (fields[name] or "").strip()
    owner_changed = (
        "owner" in fields and fields["owner"] is not None and fields["owner"].pk != current.owner_id
    )
    for name, value in fields.items():
        setattr(current, name, value)
    _validate_group(current, by=by, owner_changed=owner_changed)
    current.org_unit_id = current.owner.org_unit_id
    current.save()
    if owner_changed:
        _join_staff(current, current.owner)
    return current


@transaction.atomic
def group_archive(*, group: ServiceGroup, by: User) -> ServiceGroup:
    """Archive a dissolved group: it leaves lists and scans; its log is kept."""
    current = _locked(group)
    _require_manager(by, current)
    if current.archived_at is None:
        current.archived_at = timezone.now()
        current.save(update_fields=["archived_at", "updated_at"])
    return current


# --- Members ----------------------------------------------------------------------------


@transaction.atomic
def membership_add_contact(*, group: ServiceGroup, contact: Contact, by: User) -> tuple[Membership, bool]:
    """Add a customer's contact; returns (membership, created). Someone already
    in the group is left as is. The contact's customer must be one `by` sees."""
    current = _locked(group)
    _require_manager(by, current)
    _require_active(current)
    if not Customer.objects.visible_to(by).filter(pk=contact.customer_id).exists():
        raise ValidationError({"contact": _("您无权将该客户加入群。")})
    existing = Membership.objects.active().filter(group=current, contact=contact).first()
    if existing:
        return existing, False
    return Membership.objects.create(group=current, contact=contact), True


@transaction.atomic
def membership_add_staff(*, group: ServiceGroup, user: User, by: User) -> tuple[Membership, bool]:
    """Add a staff member (who shows their real-name identity card in the group).

    The group's manager may add anyone active with a unit; any user who sees
    the group may join it themselves.
    """
    current = _locked(group)
    if user.pk != by.pk:
        _require_manager(by, current)
    elif not ServiceGroup.objects.visible_to(by).filter(pk=current.pk).exists():
        raise PermissionDenied(_("您无权加入该群。"))
    _require_active(current)
    if not user.is_active or not user.org_unit_id:
        raise ValidationError({"user": _("只能添加在职且有所属单位的工作人员。")})
    existing = Membership.objects.active().filter(group=current, user=user).first()
    if existing:
        return existing, False
    return Membership.objects.create(group=current, user=user), True


@transaction.atomic
def membership_leave(*, membership: Membership, by: User) -> Membership:
    """Record that someone left. The owner cannot leave the group they answer for;
    a staff member may leave by themselves, anyone else is removed by the manager."""
    current = Membership.objects.select_for_update().select_related("group__org_unit").get(pk=membership.pk)
    group = current.group
    if not (current.user_id and current.user_id == by.pk):
        _require_manager(by, group)
    if current.user_id and current.user_id == group.owner_id:
        raise ValidationError(_("群负责人不能退出本群；如需移交，请先在编辑中更换负责人。"))
    if current.left_at is None:
        current.left_at = timezone.now()
        current.save(update_fields=["left_at"])
    return current


@transaction.atomic
def group_add_district_customers(*, group: ServiceGroup, by: User) -> int:
    """Bring every contact of every customer of a 台区群's district into the group.

    Set-based: one query finds the contacts not yet in the group, one INSERT
    per 1,000 adds them (ON CONFLICT DO NOTHING, so a concurrent add is not an
    error). Contacts who left the group before are not brought back (they
    chose to leave; add them one by one if they ask). Deleted archives are
    skipped. Returns how many joined; running it again adds nobody.
    """
    current = _locked(group)
    _require_manager(by, current)
    _require_active(current)
    if current.kind != GroupKind.DISTRICT or not current.district_id:
        raise ValidationError(_("只有台区群可以一键加入台区客户。"))
    ever_member = Membership.objects.filter(group=current, contact=OuterRef("pk"))
    contact_ids = list(
        Contact.objects.filter(customer__district_id=current.district_id, customer__deleted_at__isnull=True)
        .exclude(Exists(ever_member))
        .order_by("id")
        .values_list("id", flat=True)
    )
    now = timezone.now()
    Membership.objects.bulk_create(
        [Membership(group_id=current.pk, contact_id=contact_id, joined_at=now) for contact_id in contact_ids],
        batch_size=INSERT_BATCH,
        ignore_conflicts=True,
    )
    return len(contact_ids)


# --- Messages ---------------------------------------------------------------------------

# A customer's message counts as an inquiry (咨询/诉求) when the caller does not
# say: it asks something (a question mark, a question word) or names a matter
# the company must act on. Greetings and thanks do not.
INQUIRY_WORDS = (
    "请问",
    "咨询",
    "怎么",
    "如何",
    "为什么",
    "为啥",
    "什么时候",
    "何时",
    "多久",
    "能不能",
    "能否",
    "可不可以",
    "是否",
    "吗",
    "停电",
    "没电",
    "断电",
    "跳闸",
    "电费",
    "欠费",
    "缴费",
    "电表",
    "报修",
    "投诉",
    "故障",
    "帮忙",
)


def looks_like_inquiry(text: str) -> bool:
    """The documented default rule for `message_post(is_inquiry=None)`."""
    text = text or ""
    return "?" in text or "？" in text or any(word in text for word in INQUIRY_WORDS)


def _existing_message(group: ServiceGroup, external_id: str) -> GroupMessage | None:
    if not external_id:
        return None
    return GroupMessage.objects.filter(group=group, external_id=external_id).first()


def _save_message(message: GroupMessage) -> tuple[GroupMessage, bool]:
    """Insert in a savepoint; a concurrent insert of the same external id wins."""
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        existing = _existing_message(message.group, message.external_id)
        if existing is None:
            raise
        return existing, False
    return message, True


@transaction.atomic
def message_post(
    *,
    group: ServiceGroup,
    contact: Contact,
    text: str,
    by: User | None = None,
    sent_at: datetime | None = None,
    is_inquiry: bool | None = None,
    external_id: str = "",
) -> tuple[GroupMessage, bool]:
    """Record a customer's message; returns (message, created).

    The sender must be in the group. `is_inquiry` None applies
    `looks_like_inquiry`. An inquiry gets its response deadline now, from
    when it was sent. A message with an `external_id` already recorded in
    this group returns the first one (ingest may retry). `by` is who logged
    it by hand, if anyone.
    """
    text = (text or "").strip()
    existing = _existing_message(group, external_id)
    if existing:
        return existing, False
    group = ServiceGroup.objects.get(pk=group.pk)
    _require_active(group)
    errors: dict[str, str] = {}
    if not text:
        errors["text"] = _("请填写消息内容。")
    if not Membership.objects.active().filter(group=group, contact=contact).exists():
        errors["contact"] = _("该联系人不是本群成员，请先将其加入本群。")
    sent_at = sent_at or timezone.now()
    if sent_at > timezone.now() + timedelta(minutes=5):
        errors["sent_at"] = _("发送时间不能晚于现在。")
    if errors:
        raise ValidationError(errors)
    inquiry = looks_like_inquiry(text) if is_inquiry is None else bool(is_inquiry)
    message = GroupMessage(
        group=group,
        sender_kind=GroupMessage.SenderKind.CUSTOMER,
        sender_contact=contact,
        customer_id=contact.customer_id,
        sender_name=contact.name,
        text=text,
        sent_at=sent_at,
        is_inquiry=inquiry,
        response_due_at=response_due_at(sent_at) if inquiry else None,
        external_id=external_id,
        recorded_by=by,
    )
    message.full_clean(exclude=["answer", "broadcast"])
    return _save_message(message)


@dataclass
class Reply:
    message: GroupMessage
    answered: list[int]
    already_answered: bool = False


@transaction.atomic
def reply_post(
    *,
    group: ServiceGroup,
    by: User,
    text: str,
    inquiry: GroupMessage | None = None,
    customer: Customer | None = None,
    sent_at: datetime | None = None,
    external_id: str = "",
) -> Reply:
    """Record a staff member's message in the group, answering inquiries.

    The sender must be a staff member of the group (their identity card is
    what the group sees). It answers `inquiry` when given; otherwise, with a
    `customer`, every unanswered inquiry of that customer in the group asked
    before it; otherwise nothing (a general message, which still counts as
    the owner speaking). Only the first reply answers an inquiry: the answer,
    its time and the response time are set once, under a row lock.
    """
    text = (text or "").strip()
    existing = _existing_message(group, external_id)
    if existing:
        return Reply(message=existing, answered=[])
    group = ServiceGroup.objects.get(pk=group.pk)
    _require_active(group)
    if not text:
        raise ValidationError({"text": _("请填写回复内容。")})
    if not Membership.objects.active().filter(group=group, user=by).exists():
        raise ValidationError(_("您还不是该群成员，请先加入本群并亮明身份。"))
    if inquiry is not None and (inquiry.group_id != group.pk or not inquiry.is_inquiry):
        raise ValidationError({"inquiry": _("只能回复本群客户的咨询。")})
    sent_at = sent_at or timezone.now()
    message, created = _save_message(
        GroupMessage(
            group=group,
            sender_kind=GroupMessage.SenderKind.STAFF,
            sender_user=by,
            sender_name=by.identity_card[:100],
            text=text,
            sent_at=sent_at,
            external_id=external_id,
            recorded_by=by,
        )
    )
    if not created:
        return Reply(message=message, answered=[])
    waiting = GroupMessage.objects.filter(
        group=group, is_inquiry=True, answered_at__isnull=True, sent_at__lte=sent_at
    )
    if inquiry is not None:
        waiting = waiting.filter(pk=inquiry.pk)
    elif customer is not None:
        waiting = waiting.filter(customer=customer)
    else:
        waiting = waiting.none()
    answered = list(waiting.select_for_update().order_by("sent_at", "id"))
    for row in answered:
        row.answer = message
        row.answered_at = sent_at
        row.response_seconds = max(int((sent_at - row.sent_at).total_seconds()), 0)
    GroupMessage.objects.bulk_update(answered, ["answer", "answered_at", "response_seconds"])
    return Reply(
        message=message,
        answered=[row.pk for row in answered],
        already_answered=inquiry is not None and not answered,
    )


@transaction.atomic
def message_link_ticket(*, message: GroupMessage, ticket_number: str) -> GroupMessage:
    """Remember the work order made from a customer's message (the first one stays)."""
    GroupMessage.objects.filter(pk=message.pk, ticket_number="").update(ticket_number=ticket_number)
    message.refresh_from_db(fields=["ticket_number"])
    return message


# --- Broadcasts ---------------------------------------------------------------------------


def _sensitive_q(prefix: str) -> Q:
    q = Q(**{f"{prefix}vip_tier__gt": 0})
    for flag in SENSITIVITY_FLAGS:
        q |= Q(**{f"{prefix}{flag}": True})
    return q


def important_contacts(group_ids: list[int]):
    """Contacts in those groups now whose customer needs one-to-one contact."""
    return (
        Contact.objects.filter(
            _sensitive_q("customer__"),
            customer__deleted_at__isnull=True,
            group_memberships__group_id__in=group_ids,
            group_memberships__left_at__isnull=True,
        )
        .order_by("id")
        .distinct()
    )


@transaction.atomic
def broadcast_create(
    *,
    by: User,
    topic: str,
    title: str,
    body: str,
    groups: list[ServiceGroup],
    scheduled_at: datetime | None = None,
    forward_to_important: bool = True,
    important_told_elsewhere: bool = False,
) -> Broadcast:
    """Prepare a 群发 to groups the author sees. Without `scheduled_at` it is
    published at once; with one, the minute scan publishes it then.

    Important customers must be told one-to-one (seed 000 §03): a broadcast
    to groups that hold any cannot switch off `forward_to_important` — unless
    the caller tells them itself (`important_told_elsewhere`, an immediate
    broadcast only), as outage notices do, so nobody gets the same SMS twice.
    """
    errors: dict[str, str] = {}
    title, body = (title or "").strip(), (body or "").strip()
    if topic not in BroadcastTopic.values:
        errors["topic"] = _("请选择主题。")
    if not title:
        errors["title"] = _("请填写标题。")
    if not body:
        errors["body"] = _("请填写正文；分享文章时请附上简短的文字说明。")
    group_ids = sorted({group.pk for group in groups})
    if not group_ids:
        errors["groups"] = _("请至少选择一个客户群。")
    elif broadcast_groups_for(by).filter(pk__in=group_ids).count() != len(group_ids):
        errors["groups"] = _("只能发送到您可见且未归档的客户群。")
    if scheduled_at is not None and scheduled_at < timezone.now() - timedelta(minutes=1):
        errors["scheduled_at"] = _("计划发布时间不能早于现在；立即发布请留空。")
    if not by.org_unit_id:
        errors["__all__"] = _("您没有所属单位，不能群发。")
    if important_told_elsewhere:
        if scheduled_at is not None:
            errors["scheduled_at"] = _("由其他渠道点对点通知的群发只能立即发布。")
        forward_to_important = False
    elif not errors and not forward_to_important:
        important = important_contacts(group_ids).count()
        if important:
            errors["forward_to_important"] = _(
                "目标群中有%(count)d位重点客户，须点对点转发给他们，不能只发群消息。"
            ) % {"count": important}
    if errors:
        raise ValidationError(errors)
    broadcast = Broadcast.objects.create(
        topic=topic,
        title=title[:100],
        body=body,
        scheduled_at=scheduled_at,
        forward_to_important=forward_to_important,
        org_unit_id=by.org_unit_id,
        created_by=by,
    )
    broadcast.groups.set(group_ids)
    if scheduled_at is None or scheduled_at <= timezone.now():
        broadcast_publish(broadcast=broadcast, by=by, forward=not important_told_elsewhere)
        broadcast.refresh_from_db()
    return broadcast


@dataclass
class Publication:
    published: bool
    group_messages: int = 0
    personal_notices: int = 0


def _contact_draft(broadcast: Broadcast, contact: dict) -> NotificationDraft | None:
    """SMS to the contact's mobile, or e-mail when they prefer it and have an address."""
    if contact["preferred_channel"] == Contact.Channel.EMAIL and contact["email"]:
        channel, address = Notification.Channel.EMAIL, contact["email"]
    elif contact["mobile"]:
        channel, address = Notification.Channel.SMS, contact["mobile"]
    else:
        return None
    return NotificationDraft(
        dedupe_key=f"broadcast:{broadcast.pk}:contact:{contact['id']}",
        subject=_("【%(topic)s】%(title)s")
        % {"topic": broadcast.get_topic_display(), "title": broadcast.title},
        body=broadcast.body,
        channel=channel,
        address=address,
        recipient_label=contact["name"],
    )


def _publish(broadcast: Broadcast, now: datetime, *, forward: bool = True) -> Publication:
    """The claimed broadcast goes out: one message in each active target group
    (from its author) and, unless the caller tells them itself, one personal
    notice per important customer contact."""
    if not Broadcast.objects.filter(pk=broadcast.pk, published_at__isnull=True).update(published_at=now):
        return Publication(published=False)
    author = broadcast.created_by
    group_ids = list(broadcast.groups.filter(archived_at__isnull=True).values_list("id", flat=True))
    text = f"【{broadcast.get_topic_display()}】{broadcast.title}\n{broadcast.body}"
    GroupMessage.objects.bulk_create(
        [
            GroupMessage(
                group_id=group_id,
                sender_kind=GroupMessage.SenderKind.STAFF,
                sender_user=author,
                sender_name=author.identity_card[:100],
                text=text,
                sent_at=now,
                broadcast=broadcast,
                external_id=f"broadcast:{broadcast.pk}",
            )
            for group_id in group_ids
        ],
        ignore_conflicts=True,
    )
    if not forward:
        return Publication(published=True, group_messages=len(group_ids))
    contacts = important_contacts(group_ids).values("id", "name", "mobile", "email", "preferred_channel")
    drafts = [draft for contact in contacts if (draft := _contact_draft(broadcast, contact))]
    sent = notifications_enqueue_many(drafts)
    Broadcast.objects.filter(pk=broadcast.pk).update(personal_notices=F("personal_notices") + sent)
    return Publication(published=True, group_messages=len(group_ids), personal_notices=sent)


@transaction.atomic
def broadcast_publish(*, broadcast: Broadcast, by: User | None = None, forward: bool = True) -> Publication:
    """Publish now; exactly once. The claim is a conditional UPDATE of
    `published_at`, so a second publisher (a double click, the scan) gets
    `published=False` and sends nothing. Important customers in the target
    groups always get their own SMS or e-mail, dedupe key
    `broadcast:<id>:contact:<contact_id>`."""
    if by is not None and by.pk != broadcast.created_by_id:
        group_unit = OrgUnit.objects.get(pk=broadcast.org_unit_id)
        allowed = by.is_administrator or (
            by.is_supervisor and by.org_unit_id and group_unit.is_within(by.org_unit)
        )
        if not allowed:
            raise PermissionDenied(_("只有发布人、本单位主管或系统管理员可以发布该群发。"))
    with translation.override(settings.LANGUAGE_CODE):
        return _publish(broadcast, timezone.now(), forward=forward)


def broadcasts_publish_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Publish every scheduled broadcast whose time has come; returns how many.

    Each is claimed in its own transaction with `FOR UPDATE SKIP LOCKED` (two
    workers take different rows on PostgreSQL) and then the conditional
    UPDATE of `broadcast_publish` (which keeps them apart on SQLite).
    """
    now = now or timezone.now()
    published = 0
    for _round in range(limit):
        with transaction.atomic():
            row = (
                Broadcast.objects.due(now)
                .order_by("scheduled_at", "id")
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("created_by__org_unit")
                .first()
            )
            if row is None:
                break
            with translation.override(settings.LANGUAGE_CODE):
                if _publish(row, timezone.now()).published:
                    published += 1
    return published


# --- Reply templates ------------------------------------------------------------------------


@transaction.atomic
def reply_template_create(
    *, by: User, title: str, body: str, category: str, org_unit: OrgUnit | None = None
) -> ReplyTemplate:
    """Share a reply (话术) with a unit and everyone below it (default: the author's unit)."""
    errors: dict[str, str] = {}
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        errors["title"] = _("请填写标题。")
    if not body:
        errors["body"] = _("请填写话术内容。")
    if category not in ReplyCategory.values:
        errors["category"] = _("请选择分类。")
    unit = org_unit or (by.org_unit if by.org_unit_id else None)
    if unit is None or not template_units_for(by).filter(pk=unit.pk).exists():
        errors["org_unit"] = _("只能共享到本单位（主管可共享到辖区内的单位）。")
    if errors:
        raise ValidationError(errors)
    template = ReplyTemplate(title=title, body=body, category=category, org_unit=unit, created_by=by)
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def reply_template_use(*, template: ReplyTemplate, by: User) -> ReplyTemplate:
    """Count one use (F() update, so concurrent uses all count)."""
    ReplyTemplate.objects.filter(pk=template.pk).update(use_count=F("use_count") + 1)
    template.refresh_from_db(fields=["use_count"])
    return template


# --- Message ingest -------------------------------------------------------------------------

INGEST_MAX_ITEMS = 500


@dataclass
class IngestItem:
    """One message of a WeCom callback or chat-archive export, its format already checked.

    The sender is exactly one of `contact_id`, `mobile` (a contact in the
    group) or `username` (a staff member in the group). A staff message may
    name what it answers: `reply_to` (the external id of an inquiry, recorded
    earlier or in the same batch) or `customer_number` (every earlier
    unanswered inquiry of that customer in the group).
    """

    index: int
    external_id: str
    text: str
    sent_at: datetime
    contact_id: int | None = None
    mobile: str = ""
    username: str = ""
    is_inquiry: bool | None = None
    reply_to: str = ""
    customer_number: str = ""


@dataclass
class IngestOutcome:
    index: int
    external_id: str
    status: str = ""  # created, duplicate or rejected
    message_id: int | None = None
    answered: list[int] | None = None
    errors: dict[str, list[str]] | None = None


@dataclass
class _IngestContext:
    """What the batch names, looked up once: members, customers and the inquiries replied to."""

    contacts: dict[int, dict]
    mobiles: dict[str, list[dict]]
    staff: dict[str, User]
    customers: dict[str, int]
    recorded_inquiries: dict[str, bool]


_CONTACT_FIELDS = ("contact_id", "contact__name", "contact__customer_id", "contact__mobile")


def _ingest_context(group: ServiceGroup, by: User, items: list[IngestItem]) -> _IngestContext:
    members = Membership.objects.active().filter(group=group)
    contact_ids = {item.contact_id for item in items if item.contact_id is not None}
    mobiles = {item.mobile for item in items if item.mobile}
    usernames = {item.username for item in items if item.username}
    numbers = {item.customer_number for item in items if item.customer_number}
    refs = {item.reply_to for item in items if item.reply_to}
    context = _IngestContext(contacts={}, mobiles={}, staff={}, customers={}, recorded_inquiries={})
    if contact_ids:
        rows = members.filter(contact_id__in=contact_ids).values(*_CONTACT_FIELDS)
        context.contacts = {row["contact_id"]: row for row in rows}
    if mobiles:
        for row in members.filter(contact__mobile__in=mobiles).values(*_CONTACT_FIELDS):
            context.mobiles.setdefault(row["contact__mobile"], []).append(row)
    if usernames:
        staff = members.filter(user__username__in=usernames, user__is_active=True).select_related(
            "user__org_unit"
        )
        context.staff = {membership.user.username: membership.user for membership in staff}
    if numbers:
        visible = Customer.objects.visible_to(by).filter(number__in=numbers)
        context.customers = dict(visible.values_list("number", "id"))
    if refs:
        recorded = GroupMessage.objects.filter(group=group, external_id__in=refs)
        context.recorded_inquiries = dict(recorded.values_list("external_id", "is_inquiry"))
    return context


def _ingest_staff_message(
    group: ServiceGroup, item: IngestItem, text: str, context: _IngestContext, errors: dict
) -> GroupMessage | None:
    user = context.staff.get(item.username)
    if user is None:
        errors["user"] = [_("该工作人员不是本群成员，请先将其加入本群并亮明身份。")]
    if item.is_inquiry:
        errors["is_inquiry"] = [_("客户的消息才能是咨询，工作人员的消息才能回复咨询。")]
    if item.customer_number and item.customer_number not in context.customers:
        errors["customer"] = [_("没有该户号的客户档案（可能已被删除），未做修改。")]
    if errors:
        return None
    return GroupMessage(
        group=group,
        sender_kind=GroupMessage.SenderKind.STAFF,
        sender_user=user,
        sender_name=user.identity_card[:100],
        text=text,
        sent_at=item.sent_at,
        external_id=item.external_id,
    )


def _ingest_customer_message(
    group: ServiceGroup, item: IngestItem, text: str, context: _IngestContext, errors: dict
) -> GroupMessage | None:
    if item.reply_to:
        errors["reply_to"] = [_("客户的消息才能是咨询，工作人员的消息才能回复咨询。")]
    if item.customer_number:
        errors["customer"] = [_("客户的消息才能是咨询，工作人员的消息才能回复咨询。")]
    row = None
    if item.contact_id is not None:
        row = context.contacts.get(item.contact_id)
        if row is None:
            errors["contact"] = [_("该联系人不是本群成员，请先将其加入本群。")]
    else:
        rows = context.mobiles.get(item.mobile, [])
        if len(rows) == 1:
            row = rows[0]
        elif rows:
            errors["mobile"] = [_("请选择发送消息的客户联系人。")]
        else:
            errors["mobile"] = [_("该联系人不是本群成员，请先将其加入本群。")]
    if errors:
        return None
    inquiry = looks_like_inquiry(text) if item.is_inquiry is None else bool(item.is_inquiry)
    return GroupMessage(
        group=group,
        sender_kind=GroupMessage.SenderKind.CUSTOMER,
        sender_contact_id=row["contact_id"],
        customer_id=row["contact__customer_id"],
        sender_name=(row["contact__name"] or "")[:100],
        text=text,
        sent_at=item.sent_at,
        is_inquiry=inquiry,
        response_due_at=response_due_at(item.sent_at) if inquiry else None,
        external_id=item.external_id,
    )


def _ingest_message(
    group: ServiceGroup, item: IngestItem, context: _IngestContext, now: datetime
) -> tuple[GroupMessage | None, dict[str, list[str]]]:
    """The row an item becomes, or its errors by field (the rules of message_post and reply_post)."""
    errors: dict[str, list[str]] = {}
    text = (item.text or "").strip()
    if not text:
        errors["text"] = [_("请填写消息内容。")]
    if item.sent_at > now + timedelta(minutes=5):
        errors["sent_at"] = [_("发送时间不能晚于现在。")]
    build = _ingest_staff_message if item.username else _ingest_customer_message
    return build(group, item, text, context, errors), errors


@transaction.atomic
def messages_ingest(*, group: ServiceGroup, by: User, items: list[IngestItem]) -> list[IngestOutcome]:
    """Record a batch of a group's messages as a WeCom callback or chat-archive export sends them.

    Idempotent by the original message id: an `external_id` already recorded
    in the group, or repeated within the batch, is a duplicate and creates
    nothing, so a retried batch changes nothing. Each item follows the rules
    of `message_post` (a customer's message; `is_inquiry` None applies
    `looks_like_inquiry`; an inquiry's deadline is fixed from when it was
    sent) or of `reply_post` (a staff member in the group; the message answers
    the inquiry named by `reply_to`, or with `customer_number` every
    unanswered inquiry of that customer asked before it; only the first reply,
    in order of sending, answers an inquiry). A bad item is rejected with its
    errors by field while the good ones are stored. Ingests into one group
    take turns on its row lock; a batch costs a fixed few queries whatever
    its size (at most INGEST_MAX_ITEMS items).
    """
    if len(items) > INGEST_MAX_ITEMS:
        raise ValidationError(
            _("一次最多提交%(max)d项，本次%(count)d项。") % {"max": INGEST_MAX_ITEMS, "count": len(items)}
        )
    current = _locked(group)
    _require_active(current)
    now = timezone.now()
    outcomes = {item.index: IngestOutcome(index=item.index, external_id=item.external_id) for item in items}
    seen = set(
        GroupMessage.objects.filter(
            group=current, external_id__in={item.external_id for item in items}
        ).values_list("external_id", flat=True)
    )
    fresh: list[IngestItem] = []
    for item in items:
        if item.external_id in seen:
            outcomes[item.index].status = "duplicate"
        else:
            seen.add(item.external_id)
            fresh.append(item)
    context = _ingest_context(current, by, fresh)
    rows: dict[int, GroupMessage] = {}
    for item in fresh:
        message, errors = _ingest_message(current, item, context, now)
        if message is None:
            outcomes[item.index].status = "rejected"
            outcomes[item.index].errors = errors
        else:
            message.recorded_by = by
            rows[item.index] = message
    batch_inquiries = {message.external_id for message in rows.values() if message.is_inquiry}
    for item in fresh:
        known = context.recorded_inquiries.get(item.reply_to) or item.reply_to in batch_inquiries
        if item.index in rows and item.reply_to and not known:
            del rows[item.index]
            outcomes[item.index].status = "rejected"
            outcomes[item.index].errors = {"reply_to": [_("只能回复本群客户的咨询。")]}
    GroupMessage.objects.bulk_create(list(rows.values()), batch_size=INSERT_BATCH, ignore_conflicts=True)
    stored: dict[str, tuple[int, datetime]] = {}
    if rows:
        created = GroupMessage.objects.filter(
            group=current, external_id__in=[message.external_id for message in rows.values()]
        )
        stored = {
            external_id: (pk, sent_at)
            for pk, external_id, sent_at in created.values_list("id", "external_id", "sent_at")
        }
    for index, message in rows.items():
        outcomes[index].status = "created"
        outcomes[index].message_id = stored[message.external_id][0]
    replies = sorted(
        (item for item in fresh if item.index in rows and item.username),
        key=lambda item: (item.sent_at, item.index),
    )
    _ingest_answers(current, replies, stored, outcomes, context)
    return [outcomes[item.index] for item in items]


def _ingest_answers(
    group: ServiceGroup,
    replies: list[IngestItem],
    stored: dict[str, tuple[int, datetime]],
    outcomes: dict[int, IngestOutcome],
    context: _IngestContext,
) -> None:
    """The stored staff replies answer inquiries, earliest reply first, under row locks (one
    SELECT ... FOR UPDATE and one UPDATE for the whole batch)."""
    for item in replies:
        outcomes[item.index].answered = []
    refs = {item.reply_to for item in replies if item.reply_to}
    customer_ids = {context.customers[item.customer_number] for item in replies if item.customer_number}
    if not (refs or customer_ids):
        return
    waiting = list(
        GroupMessage.objects.filter(
            Q(external_id__in=refs) | Q(customer_id__in=customer_ids),
            group=group,
            is_inquiry=True,
            answered_at__isnull=True,
            sent_at__lte=max(item.sent_at for item in replies),
        )
        .select_for_update()
        .order_by("sent_at", "id")
        .only("id", "external_id", "sent_at", "customer_id", "answered_at")
    )
    answered: list[GroupMessage] = []
    for item in replies:
        reply_id, reply_sent_at = stored[item.external_id]
        if item.reply_to:
            candidates = [row for row in waiting if row.external_id == item.reply_to]
        elif item.customer_number:
            customer_id = context.customers[item.customer_number]
            candidates = [row for row in waiting if row.customer_id == customer_id]
        else:
            continue
        for row in candidates:
            if row.answered_at is None and row.sent_at <= reply_sent_at:
                row.answer_id = reply_id
                row.answered_at = reply_sent_at
                row.response_seconds = max(int((reply_sent_at - row.sent_at).total_seconds()), 0)
                answered.append(row)
                outcomes[item.index].answered.append(row.pk)
    GroupMessage.objects.bulk_update(answered, ["answer", "answered_at", "response_seconds"])
