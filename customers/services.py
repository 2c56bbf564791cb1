"""Every write to the customer archive (客户档案).

Each service takes keyword-only arguments, runs in one transaction, validates
with `full_clean()` before saving, records the acting user in the change
history and keeps `Customer.completeness` current (see `customers.quality`).
"""

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Case, Count, F, Q, When, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.choices import stations_for
from accounts.models import OrgUnit, User
from core.errors import ItemsError, VersionConflict
from core.validation import check_field_names, refuse_non_text, text_errors
from customers.models import ARCHIVE_FIELDS, Contact, Customer, District, Line, stale_q
from customers.quality import completeness_score
from notifications.services import NotificationDraft, notifications_enqueue_many

CUSTOMER_CREATE_FIELDS = frozenset(ARCHIVE_FIELDS)
# The customer number is the key external systems sync by: it is fixed once the archive exists.
CUSTOMER_UPDATE_FIELDS = CUSTOMER_CREATE_FIELDS - {"number"}


def _merge_errors(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


# --- Rules --------------------------------------------------------------------------


def customer_network_errors(
    *,
    station: OrgUnit | None,
    district: District | None,
    line: Line | None,
    manager: User | None,
) -> dict[str, str]:
    """Where a customer hangs in the grid must be consistent.

    The district belongs to the customer's station; the line is the district's
    line (or, without a district, a line of the station); the account manager
    works at the station or at a unit above it.
    """
    errors: dict[str, str] = {}
    if station is None:
        return errors
    if district is not None and district.station_id != station.pk:
        errors["district"] = _("台区「%(district)s」不属于%(station)s，请选择本供电所的台区。") % {
            "district": district.name,
            "station": station.name,
        }
    if line is not None:
        if district is not None and "district" not in errors and line.pk != district.line_id:
            errors["line"] = _("线路与台区不匹配：台区「%(district)s」挂在线路「%(line)s」上。") % {
                "district": district.name,
                "line": district.line.name,
            }
        elif line.station_id != station.pk:
            errors["line"] = _("线路「%(line)s」不属于%(station)s。") % {
                "line": line.name,
                "station": station.name,
            }
    if manager is not None and (manager.org_unit_id is None or not station.is_within(manager.org_unit)):
        errors["manager"] = _("客户经理%(manager)s不在%(station)s或其上级单位，不能负责该客户。") % {
            "manager": manager,
            "station": station.name,
        }
    return errors


def customer_can_delete(*, user: User, customer: Customer) -> bool:
    """The owner, a supervisor whose unit holds the customer's station, or an administrator."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_administrator or customer.owned_by(user):
        return True
    return bool(user.is_supervisor and user.org_unit_id and customer.station.is_within(user.org_unit))


# The archive's relations: a batch resolves them to rows it loaded, so they need no lookup each.
RELATION_FIELDS = ("station", "district", "line", "manager")


def customer_check(
    customer: Customer,
    *,
    user: User,
    station_changed: bool,
    open_station_ids: Collection[int] | None = None,
) -> None:
    """Every rule of an archive's fields (ValidationError with field messages).

    `open_station_ids`, from a caller that loaded the stations the user may
    open archives in and resolved the relations to rows it loaded (a bulk
    upsert), saves the per-archive queries: the relations are not looked up
    again and the station is checked against that set.
    """
    # The text rule first (core.text): a caller that skipped the form or serializer
    # (a bulk upsert, a script) still cannot store control characters.
    errors: dict[str, list[str]] = text_errors(customer)
    try:
        # A taken number is judged at the insert (customer_create), which knows
        # deleted archives and whether the taker is in the user's scope.
        exclude = {*(RELATION_FIELDS if open_station_ids is not None else ()), *errors}
        customer.full_clean(validate_unique=False, exclude=exclude or None)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if customer.station_id and not errors.keys() & {"station", "district", "line", "manager"}:
        network = customer_network_errors(
            station=customer.station,
            district=customer.district if customer.district_id else None,
            line=customer.line if customer.line_id else None,
            manager=customer.manager if customer.manager_id else None,
        )
        for field, message in network.items():
            _merge_errors(errors, field, message)
        if station_changed and not (
            customer.station_id in open_station_ids
            if open_station_ids is not None
            else stations_for(user).filter(pk=customer.station_id).exists()
        ):
            message = _("您无权在%(station)s建立客户档案。") % {"station": customer.station}
            _merge_errors(errors, "station", message)
    if errors:
        raise ValidationError(errors)


def customer_fill_line_from_district(customer: Customer, *, line_given: bool) -> None:
    """A district hangs off one line: take the line from it unless the caller named one."""
    if customer.district_id and (not line_given or not customer.line_id):
        # An unknown district is reported by full_clean().
        with suppress(District.DoesNotExist):
            # The object, not only its id: the rules read the line next (no second lookup).
            customer.line = customer.district.line


# --- Customers ----------------------------------------------------------------------


def number_taken_message(taken: Customer, user: User, *, visible: bool | None = None) -> str:
    """Why a number cannot be used, saying only what the user may know.

    An archive in the user's scope is named (taken, or deleted and to be
    restored); one outside it answers like any number the user cannot use, so
    a create is no way to learn which numbers exist elsewhere.
    """
    if visible is None:
        visible = Customer.all_objects.visible_to(user).filter(pk=taken.pk).exists()
    if not visible:
        return _("该户号不可用。")
    if taken.deleted_at is not None:
        return _("该户号属于一份已删除的客户档案，请联系系统管理员恢复。")
    return _("户号已存在，请核对后重新输入。")


@transaction.atomic
def customer_create(*, created_by: User, **fields: Any) -> Customer:
    """Open a customer archive.

    The number is 10–13 digits and unique; the station must be one the
    creator may work in; district, line and manager must fit the station (a
    line not given is taken from the district). The completeness score starts
    from the filled fields (a new archive has no contacts yet).
    """
    check_field_names(fields, CUSTOMER_CREATE_FIELDS)
    customer = Customer(**fields)
    customer_fill_line_from_district(customer, line_given="line" in fields)
    customer_check(customer, user=created_by, station_changed=True)
    customer.completeness = completeness_score(customer, [])
    customer._history_user = created_by
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # A deleted archive keeps its number, and a concurrent request may take
        # it between the check and the insert.
        taken = Customer.all_objects.filter(number=customer.number).first()
        if taken is None:
            raise
        raise ValidationError({"number": number_taken_message(taken, created_by)}) from None
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, updated_by: User, **fields: Any) -> Customer:
    """Change archive fields; the customer number cannot change.

    Works on a locked fresh copy of the row, so a concurrent edit is not
    overwritten with stale values. Nothing is saved (and no history row is
    written) when no value changes. Same rules as `customer_create`; moving
    the customer to another station needs a station the user may work in; a
    new district without a line brings its own line.
    """
    check_field_names(fields, CUSTOMER_UPDATE_FIELDS)
    current = Customer.all_objects.select_for_update().get(pk=customer.pk)
    stored_station_id = current.station_id
    changed = False
    for name, value in fields.items():
        field = Customer._meta.get_field(name)
        if field.is_relation:
            old, new = getattr(current, field.attname), (value.pk if value is not None else None)
        else:
            old, new = getattr(current, name), value
        if old != new:
            setattr(current, name, value)
            changed = True
    if not changed:
        return current
    customer_fill_line_from_district(current, line_given="line" in fields)
    customer_check(current, user=updated_by, station_changed=current.station_id != stored_station_id)
    current.completeness = completeness_score(current, current.contacts.all())
    current._history_user = updated_by
    current.save()
    return current


@transaction.atomic
def customer_mark_verified(*, customer: Customer, user: User) -> Customer:
    """Record that the archive was checked against reality now (seed 001 §1).

    Only a valid archive can be marked verified.
    """
    current = Customer.all_objects.select_for_update().get(pk=customer.pk)
    current.verified_at = timezone.now()
    current.full_clean()
    current._history_user = user
    current.save()
    return current


@transaction.atomic
def customer_soft_delete(*, customer: Customer, user: User) -> Customer:
    """Hide the archive from pages; the row and its history stay for the sync API and audits.

    Only the owner, a supervisor of the customer's unit or an administrator
    may delete. Deleting never depends on the archive being valid.
    """
    current = (
        Customer.all_objects.select_related("station").select_for_update(of=("self",)).get(pk=customer.pk)
    )
    if not customer_can_delete(user=user, customer=current):
        raise PermissionDenied(_("只有客户经理本人、本单位主管或系统管理员可以删除客户档案。"))
    if current.deleted_at is None:
        current.deleted_at = timezone.now()
        current._history_user = user
        current.save()
    return current


@transaction.atomic
def customer_restore(*, customer: Customer, user: User) -> Customer:
    """Bring a soft-deleted archive back (the administrator's remedy the number check points to).

    Only an administrator may restore; restoring never depends on the archive
    being valid (it was valid when deleted or it was never checked). The history
    keeps who restored it; the sync feed brings it again as a full row.
    """
    if not (user.is_authenticated and user.is_active and user.is_administrator):
        raise PermissionDenied(_("只有系统管理员可以恢复已删除的客户档案。"))
    current = Customer.all_objects.select_for_update().get(pk=customer.pk)
    if current.deleted_at is not None:
        current.deleted_at = None
        current._history_user = user
        current._change_reason = _("恢复已删除的档案")
        current.save()
    return current


def customer_refresh_completeness(*, customer: Customer) -> int:
    """Recompute and store the completeness score from the archive and its contacts."""
    score = completeness_score(customer, Contact.objects.filter(customer_id=customer.pk))
    Customer.all_objects.filter(pk=customer.pk).update(completeness=score)
    customer.completeness = score
    return score


# --- Contacts ----------------------------------------------------------------------


def contact_check(contact: Contact, *, exclude: Collection[str] | None = None) -> None:
    """The rules of one contact that need no query: a mobile or a landline, every field valid.

    (One primary contact per customer is kept by demoting the old one, see _save_contact.)
    """
    refuse_non_text(contact)
    if not contact.mobile and not contact.landline:
        raise ValidationError({"mobile": _("手机号码和固定电话至少填写一项。")})
    contact.full_clean(exclude=exclude, validate_constraints=False)


def _save_contact(contact: Contact, *, user: User) -> None:
    """Validate and save; a new primary contact demotes the old one first (history kept for both)."""
    contact_check(contact)
    if contact.is_primary:
        others = Contact.objects.filter(customer_id=contact.customer_id, is_primary=True)
        if contact.pk:
            others = others.exclude(pk=contact.pk)
        for other in others:
            other.is_primary = False
            other._history_user = user
            other.save()
    contact.validate_constraints()
    contact._history_user = user
    contact.save()


def _lock_customer(customer: Customer) -> Customer:
    return Customer.all_objects.select_for_update().get(pk=customer.pk)


@transaction.atomic
def contact_create(*, customer: Customer, user: User, **fields: Any) -> Contact:
    """Add a contact: a valid mobile (11 digits) or landline (area code and number) is required.

    A customer has at most one primary contact: adding a new primary one
    unsets the old in the same transaction (a database constraint backs this).
    """
    check_field_names(fields, Contact.EDITABLE_FIELDS)
    locked = _lock_customer(customer)
    contact = Contact(customer=locked, **fields)
    _save_contact(contact, user=user)
    customer_refresh_completeness(customer=locked)
    customer.completeness = locked.completeness
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, user: User, **fields: Any) -> Contact:
    """Change a contact under the same rules as `contact_create`; unchanged values write nothing."""
    check_field_names(fields, Contact.EDITABLE_FIELDS)
    customer = _lock_customer(contact.customer)
    current = Contact.objects.get(pk=contact.pk)
    changed = False
    for name, value in fields.items():
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed = True
            if name in Contact.PHONE_FIELDS:
                # A corrected number clears the flag a wrong-number call set.
                current.phone_flagged_at = None
    if changed:
        _save_contact(current, user=user)
        customer_refresh_completeness(customer=customer)
    return current


@transaction.atomic
def contact_delete(*, contact: Contact, user: User) -> None:
    """Remove a contact; the deletion stays in the history with who did it."""
    customer = _lock_customer(contact.customer)
    contact._history_user = user
    contact.delete()
    customer_refresh_completeness(customer=customer)


@transaction.atomic
def contact_link_wecom(*, contact: Contact, external_userid: str, user: User | None = None) -> Contact:
    """Record that `contact` is WeCom external contact `external_userid` (history kept).

    One WeCom person is one contact: a contact linked to another external_userid,
    or an external_userid another contact already carries, is refused.
    """
    external_userid = (external_userid or "").strip()
    if (
        not external_userid
        or len(external_userid) > Contact._meta.get_field("wecom_external_userid").max_length
    ):
        raise ValidationError({"external_userid": _("企业微信外部联系人ID无效。")})
    _lock_customer(contact.customer)
    current = Contact.objects.select_related("customer").get(pk=contact.pk)
    if current.wecom_external_userid == external_userid:
        return current
    if current.wecom_external_userid:
        raise ValidationError({"contact": _("该联系人已关联其他企业微信客户。")})
    taken = Contact.objects.filter(wecom_external_userid=external_userid).exclude(pk=current.pk).first()
    if taken is not None:
        raise ValidationError({"contact": _("该企业微信客户已关联联系人“%(name)s”。") % {"name": taken.name}})
    current.wecom_external_userid = external_userid
    current._history_user = user
    current.save(update_fields=["wecom_external_userid"])
    return current


@transaction.atomic
def contacts_unlink_wecom(*, external_userid: str, user: User | None = None) -> list[int]:
    """Forget WeCom external contact `external_userid` on the contacts that carry it; their ids."""
    unlinked = []
    for contact in Contact.objects.select_for_update().filter(wecom_external_userid=external_userid):
        contact.wecom_external_userid = ""
        contact._history_user = user
        contact.save(update_fields=["wecom_external_userid"])
        unlinked.append(contact.pk)
    return unlinked


# --- Weekly archive reminders ---------------------------------------------------------

STALE_EXAMPLES_PER_MANAGER = 20


def archive_reminders_enqueue() -> int:
    """Write this ISO week's archive reminder for every account manager who has one due.

    A manager is reminded when some of their customers' archives are stale
    (not verified within ARCHIVE_STALE_DAYS) or incomplete (completeness < 100):
    one in-app message per manager per week (`archive-stale:<user>:<year>-W<week>`),
    however often this runs. Set-based: one aggregate query, one windowed query
    for up to 20 examples per manager, one bulk insert. Returns how many were new.
    """
    needing_attention = (Customer.objects.stale() | Customer.objects.incomplete()).filter(
        manager__isnull=False, manager__is_active=True
    )
    stale = stale_q()
    incomplete = Q(completeness__lt=100)
    counts = (
        needing_attention.order_by()
        .values("manager_id")
        .annotate(
            total=Count("id"),
            stale=Count("id", filter=stale),
            incomplete=Count("id", filter=incomplete),
        )
    )
    examples: dict[int, list[dict]] = defaultdict(list)
    ranked = (
        needing_attention.annotate(
            is_stale_now=Case(When(stale, then=True), default=False, output_field=BooleanField()),
            rank=Window(
                RowNumber(),
                partition_by=[F("manager_id")],
                order_by=[F("verified_at").asc(nulls_first=True), F("completeness").asc(), F("id").asc()],
            ),
        )
        .filter(rank__lte=STALE_EXAMPLES_PER_MANAGER)
        .order_by("manager_id", "rank")
        .values("manager_id", "name", "number", "completeness", "is_stale_now")
    )
    for row in ranked:
        examples[row["manager_id"]].append(row)

    year, week, _weekday = timezone.localdate().isocalendar()
    list_url = reverse("customers:list")
    drafts = []
    with translation.override(settings.LANGUAGE_CODE):
        for row in counts:
            manager_id = row["manager_id"]
            drafts.append(
                NotificationDraft(
                    dedupe_key=f"archive-stale:{manager_id}:{year}-W{week:02d}",
                    subject=_("本周客户档案待核实提醒：%(total)d 户") % {"total": row["total"]},
                    body=_reminder_body(row, examples[manager_id]),
                    recipient_id=manager_id,
                    link=f"{list_url}?{urlencode({'stale': 1, 'manager': manager_id})}",
                )
            )
    return notifications_enqueue_many(drafts)


def _reminder_body(counts: dict, examples: list[dict]) -> str:
    lines = [
        _(
            "您负责的客户中有 %(total)d 户档案需要处理：%(stale)d 户超过 %(days)d 天未核实，"
            "%(incomplete)d 户档案不完整。"
        )
        % {
            "total": counts["total"],
            "stale": counts["stale"],
            "incomplete": counts["incomplete"],
            "days": settings.ARCHIVE_STALE_DAYS,
        }
    ]
    if counts["total"] > len(examples):
        lines.append(_("其中 %(shown)d 户如下：") % {"shown": len(examples)})
    for example in examples:
        reasons = []
        if example["is_stale_now"]:
            reasons.append(_("未核实"))
        if example["completeness"] < 100:
            reasons.append(_("完整度 %(percent)d%%") % {"percent": example["completeness"]})
        lines.append(
            _("· %(name)s（户号 %(number)s）：%(reasons)s")
            % {"name": example["name"], "number": example["number"], "reasons": _("、").join(reasons)}
        )
    return "\n".join(lines)


# --- Versions and contact sets (the REST API's writes) --------------------------------


class ArchiveVersionConflict(VersionConflict):
    """The archive changed since the caller read it: its stored version is not one the caller expected."""

    def __init__(self, *, customer_id: int, current_version: int):
        self.customer_id = customer_id
        super().__init__(object_id=customer_id, current_version=current_version)


class ContactSetError(ItemsError):
    """A contact set with bad items: `items[i]` maps field names to messages (empty when item i is fine)."""

    def __init__(self, items: list[dict[str, list[str]]]):
        messages = [
            _("第%(position)d位联系人：%(message)s") % {"position": position, "message": message}
            for position, errors in enumerate(items, start=1)
            for field_messages in errors.values()
            for message in field_messages
        ]
        super().__init__(field="contacts", items=items, messages=messages)


def customer_lock_current(
    *, customer: Customer, expected_versions: Collection[int] | None = None
) -> Customer:
    """Lock the live archive row until the end of the caller's transaction and check its version.

    The check runs against the locked row, so two writers holding the same
    version cannot both pass it. `expected_versions` None means "any version".
    Raises Customer.DoesNotExist when the archive has been deleted meanwhile
    and ArchiveVersionConflict when the stored version is not expected.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("customer_lock_current() must run inside a transaction")
    locked = Customer.objects.select_for_update(of=("self",)).select_related("station").get(pk=customer.pk)
    if expected_versions is not None and locked.version not in expected_versions:
        raise ArchiveVersionConflict(customer_id=locked.pk, current_version=locked.version)
    return locked


def contact_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: list(messages) for field, messages in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


@transaction.atomic
def customer_contacts_replace(
    *, customer: Customer, user: User, contacts: Sequence[Mapping[str, Any]]
) -> None:
    """Make the customer's contacts exactly `contacts`, through contact_create/update/delete.

    An item with an `id` changes that contact of this customer (fields it
    leaves out stay as they are); an item without one adds a contact; a contact
    not listed is deleted. At most one item may say `is_primary: true`; as in
    contact_create, a new primary contact demotes the old one. Deletions run
    first, then changes and additions in the given order, each under the
    rules of the contact services (history kept with `user`). Every item is
    checked: if any fails, nothing is saved and ContactSetError reports the
    errors item by item.
    """
    locked = _lock_customer(customer)
    existing = {contact.pk: contact for contact in Contact.objects.filter(customer=locked)}
    for contact in existing.values():
        contact.customer = locked
    items: list[dict[str, list[str]]] = [{} for _item in contacts]
    seen_ids: set[int] = set()
    primaries = 0
    for position, item in enumerate(contacts):
        check_field_names(item, {*Contact.EDITABLE_FIELDS, "id"})
        contact_id = item.get("id")
        if contact_id is not None:
            if contact_id not in existing:
                items[position]["id"] = [_("该联系人不属于此客户。")]
            elif contact_id in seen_ids:
                items[position]["id"] = [_("同一联系人出现了两次。")]
            seen_ids.add(contact_id)
        if item.get("is_primary"):
            primaries += 1
            if primaries > 1:
                items[position].setdefault("is_primary", []).append(_("每位客户只能有一位主联系人。"))
    if any(items):
        raise ContactSetError(items)

    for contact_id, contact in existing.items():
        if contact_id not in seen_ids:
            contact_delete(contact=contact, user=user)
    for position, item in enumerate(contacts):
        fields = {name: value for name, value in item.items() if name != "id"}
        try:
            if item.get("id") is not None:
                contact_update(contact=existing[item["id"]], user=user, **fields)
            else:
                contact_create(customer=locked, user=user, **fields)
        except ValidationError as exc:
            items[position] = contact_errors(exc)
    if any(items):
        raise ContactSetError(items)


@transaction.atomic
def customer_create_with_contacts(
    *, created_by: User, contacts: Sequence[Mapping[str, Any]] | None = None, **fields: Any
) -> Customer:
    """Open an archive with its contacts in one transaction (rules of customer_create and the contacts')."""
    customer = customer_create(created_by=created_by, **fields)
    if contacts:
        customer_contacts_replace(customer=customer, user=created_by, contacts=contacts)
    return customer


@transaction.atomic
def customer_update_with_contacts(
    *,
    customer: Customer,
    updated_by: User,
    expected_versions: Collection[int] | None = None,
    contacts: Sequence[Mapping[str, Any]] | None = None,
    **fields: Any,
) -> Customer:
    """Change archive fields and, when `contacts` is given, replace the contact set; all or nothing.

    With `expected_versions`, the write happens only if the locked row is at
    one of those versions (ArchiveVersionConflict otherwise), so a client
    never overwrites a change it has not seen. Rules of customer_update and
    customer_contacts_replace.
    """
    locked = customer_lock_current(customer=customer, expected_versions=expected_versions)
    if fields:
        locked = customer_update(customer=locked, updated_by=updated_by, **fields)
    if contacts is not None:
        customer_contacts_replace(customer=locked, user=updated_by, contacts=contacts)
    return locked


@transaction.atomic
def customer_soft_delete_if_unchanged(
    *, customer: Customer, user: User, expected_versions: Collection[int] | None = None
) -> Customer:
    """customer_soft_delete, only if the locked row is at one of `expected_versions` (any when None)."""
    locked = customer_lock_current(customer=customer, expected_versions=expected_versions)
    return customer_soft_delete(customer=locked, user=user)
