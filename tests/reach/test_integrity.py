"""Reach records point at real rows, though most of their keys have no database constraint.

The set-based fan-out writes notice, customer, station, group, broadcast and outbox
row from rows it has just read (reach/models.py says why the database does not
check them row by row); deletes through the ORM still cascade, set null or protect.
"""

import pytest
from django.db import connection
from django.db.models import ProtectedError

from accounts.models import OrgUnit
from groups.models import Broadcast
from notifications.models import Notification
from outages import services as outages
from reach.models import Channel, PersonalPost, ReachNotice, ReachRecord
from tests.factories import UserFactory
from tests.reach.test_policy import add, mixed, records  # noqa: F401

UNCHECKED = {
    "notice",
    "customer",
    "station",
    "group",
    "broadcast",
    "notification",
    "personal_post",
    "called_by",
}


def dangling() -> dict[str, list[int]]:
    """Record ids per key that points at a row that is not there (any key, checked or not)."""
    found = {}
    for field in ReachRecord._meta.concrete_fields:
        if not field.is_relation:
            continue
        present = field.related_model._base_manager.values("pk")
        ids = list(
            ReachRecord.objects.filter(**{f"{field.name}__isnull": False})
            .exclude(**{f"{field.name}__in": present})
            .values_list("pk", flat=True)
        )
        if ids:
            found[field.name] = ids
    return found


def test_the_fan_out_writes_no_record_pointing_at_nothing(grid, fault, mixed):  # noqa: F811
    outage = outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    assert outages.fan_out_due() == 1
    got = records(outage)
    assert len(got) == len(mixed)
    channels = {record.channel for record in got.values()}
    assert {Channel.GROUP, Channel.SMS, Channel.CALL} <= channels
    assert dangling() == {}


def test_deletes_through_the_orm_cascade_or_set_null_as_before(grid, fault, mixed, district_group):  # noqa: F811
    outage = outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    outages.fan_out_due()
    got = records(outage)
    sms = got[mixed["two_mobiles"].pk]
    grouped = got[mixed["in_group"].pk]
    assert sms.notification_id and grouped.group_id and grouped.broadcast_id

    Notification.objects.filter(pk=sms.notification_id).delete()
    Broadcast.objects.filter(pk=grouped.broadcast_id).delete()
    district_group.delete()
    mixed["resident_landline"].delete()  # a hard delete (the product archives with deleted_at)

    assert dangling() == {}
    sms.refresh_from_db()
    grouped.refresh_from_db()
    assert sms.notification_id is None
    assert (grouped.group_id, grouped.broadcast_id) == (None, None)
    assert not ReachRecord.objects.filter(customer_id=mixed["resident_landline"].pk).exists()
    # A station with records cannot go, as before.
    with pytest.raises(ProtectedError):
        OrgUnit.objects.get(pk=sms.station_id).delete()

    ReachNotice.objects.filter(key__startswith="outage_notice:").delete()
    assert not ReachRecord.objects.exists()
    assert dangling() == {}


def test_deleting_who_called_or_the_one_to_one_post_sets_them_null(grid, fault, mixed):  # noqa: F811
    outage = outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    outages.fan_out_due()
    record = next(iter(records(outage).values()))
    caller = UserFactory()
    post = PersonalPost.objects.create(notice=record.notice, sender=caller, sender_userid="zhang")
    ReachRecord.objects.filter(pk=record.pk).update(called_by=caller, personal_post=post)

    post.delete()
    record.refresh_from_db()
    assert (record.personal_post_id, record.called_by_id) == (None, caller.pk)
    caller.delete()
    record.refresh_from_db()
    assert record.called_by_id is None
    assert dangling() == {}


def test_only_the_contact_and_the_call_assignee_keep_their_database_constraint(db):
    """Contacts are deleted every day, concurrently with a fan-out, and a call task must
    not point at nobody: those keys stay checked. Every other key is queued for a check at
    commit for every record a fan-out inserts, even when empty."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ReachRecord._meta.db_table)
    checked = {
        column
        for constraint in constraints.values()
        if constraint["foreign_key"]
        for column in constraint["columns"]
    }
    columns = {ReachRecord._meta.get_field(name).column for name in UNCHECKED}
    assert not checked & columns
    assert checked == {"contact_id", "call_assignee_id"}
