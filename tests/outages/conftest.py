"""Outage fixtures: two lines of 雷山供电所, three districts, customers in bulk."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Contact, Customer
from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from outages import services
from outages.models import OutageKind
from tests.factories import DistrictFactory, LineFactory

_numbers = itertools.count(1)


@pytest.fixture
def grid(org_tree, manager):
    station = org_tree["station"]
    line = LineFactory(code="XL-LS-1", name="10kV永乐线", station=station)
    other_line = LineFactory(code="XL-LS-2", name="10kV丹江线", station=station)
    return {
        "line": line,
        "other_line": other_line,
        "d1": DistrictFactory(code="TQ-1", name="永乐一号台区", station=station, line=line, manager=manager),
        "d2": DistrictFactory(code="TQ-2", name="永乐二号台区", station=station, line=line, manager=manager),
        "d3": DistrictFactory(
            code="TQ-3", name="丹江台区", station=station, line=other_line, manager=manager
        ),
        "foreign": DistrictFactory(code="TQ-KL", name="凯里台区", station=org_tree["other_station"]),
    }


@pytest.fixture
def populate(org_tree, manager):
    """populate(district, count, sensitive=0, email=0) -> customers, each with a primary contact;
    the first `sensitive` are VIP, the first `email` of those prefer e-mail. Bulk inserts."""

    def _populate(district, count, *, sensitive=0, email=0, kind=Customer.Kind.RESIDENT):
        customers = Customer.objects.bulk_create(
            [
                Customer(
                    number=f"{7000000000 + (number := next(_numbers))}",
                    name=f"客户{number}",
                    kind=kind,
                    station=district.station,
                    district=district,
                    line=district.line,
                    manager=manager,
                    vip_tier=1 if index < sensitive else 0,
                )
                for index in range(count)
            ]
        )
        if not customers[0].pk:
            customers = list(Customer.objects.filter(district=district).order_by("-pk")[:count])[::-1]
        Contact.objects.bulk_create(
            [
                Contact(
                    customer=customer,
                    name=f"联系人{customer.pk}",
                    mobile=f"139{customer.pk:08d}",
                    email=f"c{customer.pk}@example.com" if index < email else "",
                    preferred_channel=Contact.Channel.EMAIL if index < email else Contact.Channel.SMS,
                    is_primary=True,
                )
                for index, customer in enumerate(customers)
            ]
        )
        return customers

    return _populate


@pytest.fixture
def planned(manager, grid):
    """planned(**fields) -> a planned outage of line 1 starting in ten days."""

    def _make(**fields):
        start = timezone.now() + timedelta(days=10)
        fields.setdefault("lines", [grid["line"]])
        fields.setdefault("planned_start", start)
        fields.setdefault("planned_end", start + timedelta(hours=8))
        return services.outage_create(by=manager, kind=OutageKind.PLANNED, reason="线路检修", **fields)

    return _make


@pytest.fixture
def fault(manager, grid):
    def _make(**fields):
        fields.setdefault("districts", [grid["d1"]])
        fields.setdefault("estimated_restoration", timezone.now() + timedelta(hours=3))
        return services.outage_create(by=manager, kind=OutageKind.FAULT, reason="变压器故障", **fields)

    return _make


@pytest.fixture
def district_group(manager, grid):
    """The 台区群 of d1, linked to its WeCom chat: a post to it reaches the district."""
    group = group_create(
        by=manager,
        name="永乐一号台区服务群",
        kind=GroupKind.DISTRICT,
        district=grid["d1"],
        rules="文明发言，不发广告。",
    )
    ServiceGroup.objects.filter(pk=group.pk).update(external_id="wrOgQhDgAAd1")
    group.external_id = "wrOgQhDgAAd1"
    return group


@pytest.fixture
def crm_only_group(manager, grid):
    """The 台区群 of d2 kept only in the CRM (no WeCom chat): it reaches nobody."""
    return group_create(
        by=manager,
        name="永乐二号台区服务群",
        kind=GroupKind.DISTRICT,
        district=grid["d2"],
        rules="文明发言，不发广告。",
    )
