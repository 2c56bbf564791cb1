"""Archive fixtures: a small grid (lines and districts) and customers made through the services."""

import itertools

import pytest

from customers import services
from customers.models import Customer
from tests.factories import DistrictFactory, LineFactory

_numbers = itertools.count(1)


@pytest.fixture
def grid(org_tree) -> dict:
    """Two lines with a district each in 雷山供电所, one district in 丹江 and one in 凯里."""
    line = LineFactory(code="XL-LS-1", name="10kV永乐线", station=org_tree["station"])
    other_line = LineFactory(code="XL-LS-2", name="10kV丹江线", station=org_tree["station"])
    return {
        "line": line,
        "other_line": other_line,
        "district": DistrictFactory(
            code="TQ-LS-1", name="永乐一号台区", station=org_tree["station"], line=line
        ),
        "other_district": DistrictFactory(
            code="TQ-LS-2", name="丹江二号台区", station=org_tree["station"], line=other_line
        ),
        "sibling_district": DistrictFactory(
            code="TQ-DJ-1", name="丹江所台区", station=org_tree["sibling_station"]
        ),
        "foreign_district": DistrictFactory(
            code="TQ-KL-1", name="凯里台区", station=org_tree["other_station"]
        ),
    }


def next_number() -> str:
    return f"52{next(_numbers):010d}"


@pytest.fixture
def make_customer(admin_user, org_tree):
    """make_customer(by=user, contact={...}, **fields) -> a customer created through the services."""

    def _make(*, by=None, contact: dict | None = None, **fields) -> Customer:
        fields.setdefault("number", next_number())
        fields.setdefault("name", "测试客户")
        fields.setdefault("station", org_tree["station"])
        customer = services.customer_create(created_by=by or admin_user, **fields)
        if contact is not None:
            services.contact_create(customer=customer, user=by or admin_user, **contact)
            customer.refresh_from_db()
        return customer

    return _make


@pytest.fixture
def mine(make_customer, manager, grid) -> Customer:
    """张三's customer with a complete archive and a primary mobile contact."""
    return make_customer(
        by=manager,
        number="5201000001",
        name="雷山县永乐酒店",
        kind=Customer.Kind.COMMERCIAL,
        voltage=Customer.Voltage.V380,
        address="雷山县丹江镇永乐路18号",
        district=grid["district"],
        manager=manager,
        is_important=True,
        contact={"name": "杨老板", "mobile": "13885551234", "is_primary": True},
    )


@pytest.fixture
def colleagues(make_customer, colleague, grid) -> Customer:
    return make_customer(
        by=colleague,
        number="5201000002",
        name="李四的客户",
        address="雷山县丹江镇民主路3号",
        district=grid["other_district"],
        manager=colleague,
        contact={"name": "王大妈", "mobile": "13885552345", "is_primary": True},
    )


@pytest.fixture
def foreign(make_customer, outsider, org_tree, grid) -> Customer:
    """A customer of 凯里供电所, another county."""
    return make_customer(
        by=outsider,
        number="5209000001",
        name="凯里市某商场",
        address="凯里市北京东路1号",
        station=org_tree["other_station"],
        district=grid["foreign_district"],
        manager=outsider,
        contact={"name": "赵经理", "mobile": "13885559999", "is_primary": True},
    )
