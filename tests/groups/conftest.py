"""Group fixtures: a district and a line in 雷山供电所, customers with contacts, a 台区群 of the manager."""

import itertools

import pytest
from django.utils import timezone

from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.services.messages import message_post
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory, LineFactory
from tests.groups.archive_support import CUSTOMER_ID, ROOM, STAFF_ID
from tests.groups.wecom_helpers import corp  # noqa: F401 - the WeCom sync tests' fixture

TZ = timezone.get_current_timezone()
_mobiles = itertools.count(1)


def local(year, month, day, hour, minute=0):
    return timezone.datetime(year, month, day, hour, minute, tzinfo=TZ)


def next_mobile() -> str:
    return f"1377777{next(_mobiles):04d}"


@pytest.fixture
def grid(org_tree) -> dict:
    line = LineFactory(code="XL-LS-1", name="10kV永乐线", station=org_tree["station"])
    return {
        "line": line,
        "district": DistrictFactory(
            code="TQ-LS-1", name="永乐一号台区", station=org_tree["station"], line=line
        ),
        "foreign_district": DistrictFactory(
            code="TQ-KL-1", name="凯里台区", station=org_tree["other_station"]
        ),
    }


@pytest.fixture
def make_customer(org_tree, grid, manager):
    """make_customer(contacts=1, **fields) -> a customer of the district with that many contacts."""

    def _make(contacts: int = 1, **fields):
        fields.setdefault("station", org_tree["station"])
        fields.setdefault("district", grid["district"])
        fields.setdefault("line", grid["line"])
        fields.setdefault("manager", manager)
        customer = CustomerFactory(**fields)
        for index in range(contacts):
            ContactFactory(customer=customer, mobile=next_mobile(), is_primary=index == 0)
        return customer

    return _make


@pytest.fixture
def group(manager, grid):
    """A 台区群 the manager runs (the manager is its first staff member)."""
    return group_create(
        by=manager,
        name="永乐一号台区服务群",
        kind=GroupKind.DISTRICT,
        district=grid["district"],
        rules="文明发言，不发广告；用电问题@客户经理。",
        announcement="停电信息将第一时间在群内通知。",
    )


@pytest.fixture
def customer(make_customer):
    return make_customer(name="杨丽")


@pytest.fixture
def contact(customer):
    return customer.contacts.get()


@pytest.fixture
def member(group, contact, manager):
    """The customer's contact, in the group."""
    membership, _created = membership_add_contact(group=group, contact=contact, by=manager)
    return membership


@pytest.fixture
def ask(group, contact, member):
    """ask(text="...", at=None) -> an inquiry by the customer's contact."""

    def _ask(text: str = "请问今天为什么停电？", at=None, target=None, who=None):
        message, _created = message_post(
            group=target or group, contact=who or contact, text=text, sent_at=at, is_inquiry=True
        )
        return message

    return _ask


@pytest.fixture
def linked(group, contact, member, manager):
    """The group, its customer contact and its owner, linked to their WeCom ids."""
    ServiceGroup.objects.filter(pk=group.pk).update(external_id=ROOM)
    contact.wecom_external_userid = CUSTOMER_ID
    contact.save(update_fields=["wecom_external_userid"])
    manager.wecom_userid = STAFF_ID
    manager.save(update_fields=["wecom_userid"])
    group.refresh_from_db()
    return group
