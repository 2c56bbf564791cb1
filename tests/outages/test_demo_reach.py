"""On the demo data (seed_demo, seed_activity): an outage over a district whose service group is
linked to WeCom and one without a group ends with every affected customer told by some channel or
on a call list, the outage page's figures add up to the affected count, and after restoration
nothing of the start notice goes out — only the restoration."""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count

from accounts.models import User
from customers.models import Customer, District
from groups.models import ServiceGroup
from notifications.models import Notification
from notifications.services import notifications_deliver_due
from outages import services
from outages.models import OutageKind, OutageNotice
from reach.models import Channel, ReachRecord, State
from tests.reach.test_pages import figures


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo, seeded once for the module inside a transaction rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        cache.clear()
        call_command("seed_demo", customers=300, seed=11, stdout=StringIO())
        call_command("seed_activity", orders=10, seed=11, stdout=StringIO())
        yield
        transaction.set_rollback(True)
    cache.clear()


@pytest.fixture
def demo(seeded, db):
    yield
    cache.clear()


def two_districts():
    """The district of the demo whose service group has the most customers (its group now
    linked to WeCom, as linking it in WeCom does) and the district of the same station with
    the most customers and no group."""
    districts = District.objects.annotate(residents=Count("customers")).filter(residents__gt=0)
    with_group = ServiceGroup.objects.filter(district__isnull=False).values("district_id")
    grouped = districts.filter(pk__in=with_group).order_by("-residents", "pk").first()
    ServiceGroup.objects.filter(district=grouped).update(external_id="wrDemoLinked0001")
    alone = (
        districts.filter(station=grouped.station)
        .exclude(pk__in=with_group)
        .order_by("-residents", "pk")
        .first()
    )
    return grouped, alone


def test_every_affected_customer_is_told_or_on_a_call_list_and_nothing_goes_out_after_restoration(
    demo, login
):
    supervisor = User.objects.get(username="supervisor")
    grouped, alone = two_districts()
    outage = services.outage_create(
        by=supervisor, kind=OutageKind.FAULT, reason="线路故障跳闸", districts=[grouped, alone]
    )
    services.outage_publish(outage=outage, by=supervisor)
    assert services.fan_out_due() >= 1
    start = outage.notices.get(kind=OutageNotice.START)
    records = ReachRecord.objects.filter(notice__key=f"outage_notice:{start.pk}").select_related("customer")
    affected = set(outage.affected.values_list("customer_id", flat=True))
    assert len(affected) >= 5
    assert sorted(r.customer_id for r in records) == sorted(affected)  # one record each

    by_district = {grouped.pk: set(), alone.pk: set()}
    for record in records:
        customer = record.customer
        by_district[customer.district_id].add(record.channel)
        if customer.needs_one_to_one:
            assert record.channel in (Channel.SMS, Channel.EMAIL, Channel.WECOM, Channel.CALL), customer
        if record.channel == Channel.NONE:
            # Untold only where the policy allows it, with the reason; a resident gets a call.
            assert customer.kind != Customer.Kind.RESIDENT and record.reason, customer
    assert Channel.GROUP in by_district[grouped.pk]
    assert Channel.GROUP not in by_district[alone.pk] and Channel.SMS in by_district[alone.pk]

    body = login(supervisor).get(f"/outages/{outage.pk}/").content.decode()
    assert sum(figures(body).values()) == len(affected)

    services.outage_restore(outage=outage, by=supervisor)
    start_rows = Notification.objects.filter(dedupe_key__startswith=start.dedupe_prefix)
    assert start_rows.exists()
    assert set(start_rows.values_list("status", flat=True)) == {Notification.Status.WITHDRAWN}
    assert not records.filter(state__in=[State.QUEUED, State.WAITING]).exclude(channel=Channel.CALL).exists()
    assert services.fan_out_due() == 1  # the restoration notice, and nothing else
    notifications_deliver_due()
    assert set(start_rows.values_list("status", flat=True)) == {Notification.Status.WITHDRAWN}
    restored = outage.notices.get(kind=OutageNotice.RESTORED)
    assert restored.fanned_out_at is not None
    assert ReachRecord.objects.filter(notice__key=f"outage_notice:{restored.pk}").count() == len(affected)
