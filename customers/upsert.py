"""Many archives written at once, set-based, under the rules of customers.services.

The bulk API (customers.api.bulk) validates its items' fields and hands the
writes here. Each write is checked in memory against rows loaded once for the
whole batch, under the same rules, messages and outcomes as the per-archive
services (customer_create, customer_update, customer_contacts_replace); then
the batch is written with a few statements per table: bulk_create and
bulk_update for customers and contacts, one insert of their history rows.
Nothing a service would refuse is written, and a write that fails leaves no
trace, because the failing write is never part of the statements.

What stays the same as one archive at a time:
- history: a "+" row per created archive or contact, a "~" row per changed
  archive (only when an archive field changed), per changed contact and per
  contact demoted by a new primary one, a "-" row per deleted contact, each
  with the acting user;
- versions, sync stamps and the sync feed's rendered rows: kept by the
  database triggers, which see these statements as any other write;
- completeness: computed from the archive and its final contacts.

A number may appear once per batch; the caller splits repeats into rounds.
"""

import copy
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Model
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.validation import check_field_names
from customers.models import Contact, Customer
from customers.quality import completeness_score
from customers.services import (
    CUSTOMER_CREATE_FIELDS,
    CUSTOMER_UPDATE_FIELDS,
    ArchiveVersionConflict,
    ContactSetError,
    contact_check,
    contact_errors,
    customer_check,
    customer_fill_line_from_district,
    number_taken_message,
)

# Archive columns a changed archive writes back (besides completeness and updated_at).
_WRITTEN_FIELDS = [name for name in CUSTOMER_UPDATE_FIELDS]


@dataclass
class ArchiveWrite:
    """One archive to open (`current` None) or change (`current` locked by customers_lock_for_upsert)."""

    number: str
    current: Customer | None
    fields: dict[str, Any]
    contacts: Sequence[Mapping[str, Any]] | None = None
    expected_versions: Collection[int] | None = None


@dataclass
class WriteOutcome:
    status: str  # created, updated, unchanged, invalid, conflict
    customer: Customer | None = None
    error: Exception | None = None


@dataclass
class _ContactPlan:
    """What replacing one archive's contacts writes."""

    deleted: list[Contact] = field(default_factory=list)
    changed: list[Contact] = field(default_factory=list)
    created: list[Contact] = field(default_factory=list)
    # (contact, its state at that moment, "+" or "~"): one history row each, in order.
    events: list[tuple[Contact, Contact, str]] = field(default_factory=list)
    final: list[Contact] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.deleted or self.changed or self.created)


def customers_lock_for_upsert(*, user: User, numbers: Collection[str]) -> dict[str, Customer]:
    """Lock the live archives with these numbers that the user sees, in number order (no deadlock
    between two batches), with the rows the rules read (units, the district's line, the manager's unit)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("customers_lock_for_upsert() must run inside a transaction")
    locked = (
        Customer.objects.visible_to(user)
        .select_for_update(of=("self",))
        .select_related("station", "district__line", "line", "manager__org_unit")
        .filter(number__in=numbers)
        .order_by("number")
    )
    return {customer.number: customer for customer in locked}


def _plan_contacts(
    customer: Customer, existing: Mapping[int, Contact], items: Sequence[Mapping[str, Any]]
) -> _ContactPlan:
    """customer_contacts_replace, in memory: the same checks and messages, the same resulting rows."""
    errors: list[dict[str, list[str]]] = [{} for _item in items]
    seen_ids: set[int] = set()
    primaries = 0
    for position, item in enumerate(items):
        check_field_names(item, {*Contact.EDITABLE_FIELDS, "id"})
        contact_id = item.get("id")
        if contact_id is not None:
            if contact_id not in existing:
                errors[position]["id"] = [_("该联系人不属于此客户。")]
            elif contact_id in seen_ids:
                errors[position]["id"] = [_("同一联系人出现了两次。")]
            seen_ids.add(contact_id)
        if item.get("is_primary"):
            primaries += 1
            if primaries > 1:
                errors[position].setdefault("is_primary", []).append(_("每位客户只能有一位主联系人。"))
    if any(errors):
        raise ContactSetError(errors)

    plan = _ContactPlan()
    live = [contact for pk, contact in existing.items() if pk in seen_ids]
    plan.deleted = [contact for pk, contact in existing.items() if pk not in seen_ids]
    changed: dict[int, Contact] = {}

    def save(contact: Contact, kind: str) -> None:
        if contact.is_primary:
            # A new primary contact demotes the old one (a "~" row for it, as in _save_contact).
            for other in live:
                if other is not contact and other.is_primary:
                    other.is_primary = False
                    _mark_changed(other)
                    plan.events.append((other, copy.copy(other), "~"))
        plan.events.append((contact, copy.copy(contact), kind))

    def _mark_changed(contact: Contact) -> None:
        if contact.pk is not None:
            changed[contact.pk] = contact

    for position, item in enumerate(items):
        values = {name: value for name, value in item.items() if name != "id"}
        if item.get("id") is not None:
            contact = existing[item["id"]]
            trial = copy.copy(contact)
            differs = False
            for name, value in values.items():
                if getattr(trial, name) != value:
                    setattr(trial, name, value)
                    differs = True
            if not differs:
                continue
            try:
                contact_check(trial, exclude=["customer"])
            except ValidationError as exc:
                errors[position] = contact_errors(exc)
                continue
            for name in values:
                setattr(contact, name, getattr(trial, name))
            _mark_changed(contact)
            save(contact, "~")
        else:
            contact = Contact(customer=customer, **values)
            try:
                contact_check(contact, exclude=["customer"])
            except ValidationError as exc:
                errors[position] = contact_errors(exc)
                continue
            live.append(contact)
            plan.created.append(contact)
            save(contact, "+")
    if any(errors):
        raise ContactSetError(errors)
    plan.changed = list(changed.values())
    plan.final = live
    return plan


@dataclass
class _Plan:
    write: ArchiveWrite
    customer: Customer
    fields_changed: bool
    contacts: _ContactPlan | None
    completeness_changed: bool

    @property
    def writes(self) -> bool:
        return (
            self.write.current is None
            or self.fields_changed
            or self.completeness_changed
            or bool(self.contacts and self.contacts.writes)
        )


def _plan(
    write: ArchiveWrite,
    *,
    user: User,
    open_station_ids: Collection[int],
    existing_contacts: Mapping[int, dict[int, Contact]],
    taken: Mapping[str, Customer],
    visible_taken: Collection[int],
) -> _Plan:
    """The rules of customer_create / customer_update_with_contacts for one write, in memory."""
    current = write.current
    if current is None:
        check_field_names(write.fields, CUSTOMER_CREATE_FIELDS)
        customer = Customer(number=write.number, **{k: v for k, v in write.fields.items() if k != "number"})
        customer_fill_line_from_district(customer, line_given="line" in write.fields)
        customer_check(customer, user=user, station_changed=True, open_station_ids=open_station_ids)
        if customer.number in taken:
            owner = taken[customer.number]
            message = number_taken_message(owner, user, visible=owner.pk in visible_taken)
            raise ValidationError({"number": message})
        fields_changed = True
        existing: dict[int, Contact] = {}
        stored_contacts: list[Contact] = []
    else:
        if write.expected_versions is not None and current.version not in write.expected_versions:
            raise ArchiveVersionConflict(customer_id=current.pk, current_version=current.version)
        check_field_names(write.fields, CUSTOMER_UPDATE_FIELDS)
        customer = copy.copy(current)
        stored_station_id = customer.station_id
        fields_changed = False
        for name, value in write.fields.items():
            model_field = Customer._meta.get_field(name)
            if model_field.is_relation:
                old, new = getattr(customer, model_field.attname), (value.pk if value is not None else None)
            else:
                old, new = getattr(customer, name), value
            if old != new:
                setattr(customer, name, value)
                fields_changed = True
        if fields_changed:
            customer_fill_line_from_district(customer, line_given="line" in write.fields)
            customer_check(
                customer,
                user=user,
                station_changed=customer.station_id != stored_station_id,
                open_station_ids=open_station_ids,
            )
        existing = {pk: copy.copy(contact) for pk, contact in existing_contacts.get(customer.pk, {}).items()}
        stored_contacts = list(existing.values())
    contacts = None
    if write.contacts is not None:
        contacts = _plan_contacts(customer, existing, write.contacts)
    final_contacts = contacts.final if contacts is not None else stored_contacts
    score = completeness_score(customer, final_contacts)
    completeness_changed = current is not None and (
        score != current.completeness and (fields_changed or bool(contacts and contacts.writes))
    )
    customer.completeness = score
    return _Plan(write, customer, fields_changed, contacts, completeness_changed)


def customers_write_many(
    *, user: User, writes: Sequence[ArchiveWrite], open_station_ids: Collection[int]
) -> list[WriteOutcome]:
    """Check every write, then apply the valid ones set-based; one outcome per write, in order.

    Runs inside the caller's transaction (the rows of `current` locked by
    customers_lock_for_upsert). An IntegrityError (a number taken by a
    concurrent create since the check) propagates: the caller rolls the batch
    back and applies it one archive at a time.
    """
    outcomes: list[WriteOutcome | None] = [None] * len(writes)
    # Completeness counts contacts: every changed archive's are read (one query for the batch).
    updated_ids = [write.current.pk for write in writes if write.current is not None]
    existing_contacts: dict[int, dict[int, Contact]] = defaultdict(dict)
    if updated_ids:
        for contact in Contact.objects.filter(customer_id__in=updated_ids).order_by("customer_id", "id"):
            existing_contacts[contact.customer_id][contact.pk] = contact
    created_numbers = [write.number for write in writes if write.current is None]
    taken = (
        {c.number: c for c in Customer.all_objects.filter(number__in=created_numbers)}
        if created_numbers
        else {}
    )
    visible_taken = (
        set(
            Customer.all_objects.visible_to(user)
            .filter(pk__in=[c.pk for c in taken.values()])
            .values_list("pk", flat=True)
        )
        if taken
        else set()
    )

    plans: list[tuple[int, _Plan]] = []
    for index, write in enumerate(writes):
        try:
            plan = _plan(
                write,
                user=user,
                open_station_ids=open_station_ids,
                existing_contacts=existing_contacts,
                taken=taken,
                visible_taken=visible_taken,
            )
        except ArchiveVersionConflict as exc:
            outcomes[index] = WriteOutcome("conflict", write.current, exc)
            continue
        except ValidationError as exc:
            outcomes[index] = WriteOutcome("invalid", write.current, exc)
            continue
        if not plan.writes:
            outcomes[index] = WriteOutcome("unchanged", write.current)
            continue
        plans.append((index, plan))

    _apply(plans, user=user)
    fresh = dict(
        Customer.all_objects.filter(pk__in=[plan.customer.pk for _i, plan in plans]).values_list(
            "pk", "version"
        )
    )
    for index, plan in plans:
        plan.customer.version = fresh[plan.customer.pk]
        outcomes[index] = WriteOutcome("created" if plan.write.current is None else "updated", plan.customer)
    return outcomes


def _update_rows(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Write `fields` of each object to its row: one `UPDATE ... FROM unnest(arrays)` (PostgreSQL),
    or `UPDATE ... FROM (VALUES ...)` per batch of SQLite's parameter limit.

    Django's bulk_update builds a CASE expression per field and row, which
    takes seconds for a thousand rows of twenty fields. The row triggers fire
    as for any update (PostgreSQL; SQLite 3.33+ has UPDATE ... FROM).
    """
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    assignments = ", ".join(f"{quote(f.column)} = v.column{n}" for n, f in enumerate(columns[1:], start=2))
    table = quote(meta.db_table)
    match = f"{table}.{quote(meta.pk.column)} = v.column1"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column: a handful of parameters whatever the number of rows.
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
            names = ", ".join(f"column{n}" for n in range(1, len(columns) + 1))
            params = [
                [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in columns
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names}) WHERE {match}", params
            )
            return
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        per_batch = max(1, connection.features.max_query_params // len(columns))
        for start in range(0, len(objs), per_batch):
            batch = objs[start : start + per_batch]
            params = [
                f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in batch for f in columns
            ]
            values = ", ".join([row] * len(batch))
            sql = f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v WHERE {match}"
            cursor.execute(sql, params)


def _apply(plans: Sequence[tuple[int, _Plan]], *, user: User) -> None:
    """The statements: customers and their history, then contacts (deleted, demoted, promoted, added)."""
    now = timezone.now()
    created = [plan.customer for _i, plan in plans if plan.write.current is None]
    for customer in created:
        customer.created_at = customer.updated_at = now
    Customer.objects.bulk_create(created)
    changed = [plan.customer for _i, plan in plans if plan.write.current is not None]
    for _i, plan in plans:
        if plan.write.current is not None and plan.fields_changed:
            plan.customer.updated_at = now
    if changed:
        _update_rows(Customer, changed, [*_WRITTEN_FIELDS, "completeness", "updated_at"])
    history = Customer.history
    history.bulk_history_create(created, default_user=user, default_change_reason=None, default_date=now)
    history.bulk_history_create(
        [plan.customer for _i, plan in plans if plan.write.current is not None and plan.fields_changed],
        update=True,
        default_user=user,
        default_change_reason=None,
        default_date=now,
    )

    contact_plans = [plan.contacts for _i, plan in plans if plan.contacts is not None]
    deleted = [contact for contacts in contact_plans for contact in contacts.deleted]
    if deleted:
        for contact in deleted:
            contact._history_user = user
        # Through the collector, as Model.delete() would: what points at a contact is handled, and
        # each deletion gets its "-" history row with the acting user.
        collector = Collector(using=router.db_for_write(Contact))
        collector.collect(deleted)
        collector.delete()
    for _i, plan in plans:
        if plan.contacts is not None:
            for contact in plan.contacts.created:
                contact.customer_id = plan.customer.pk
    changed_contacts = [contact for contacts in contact_plans for contact in contacts.changed]
    # Demotions before promotions: the database allows one primary contact per customer at any moment.
    demoted = [contact for contact in changed_contacts if not contact.is_primary]
    promoted = [contact for contact in changed_contacts if contact.is_primary]
    for batch in (demoted, promoted):
        if batch:
            _update_rows(Contact, batch, Contact.EDITABLE_FIELDS)
    new_contacts = [contact for contacts in contact_plans for contact in contacts.created]
    Contact.objects.bulk_create(new_contacts)
    added, updated = [], []
    for contacts in contact_plans:
        for contact, state, kind in contacts.events:
            state.pk, state.customer_id, state.created_at = (
                contact.pk,
                contact.customer_id,
                contact.created_at,
            )
            (added if kind == "+" else updated).append(state)
    Contact.history.bulk_history_create(
        added, default_user=user, default_change_reason=None, default_date=now
    )
    Contact.history.bulk_history_create(
        updated, update=True, default_user=user, default_change_reason=None, default_date=now
    )
