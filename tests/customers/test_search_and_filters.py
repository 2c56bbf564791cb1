"""Search by name, number prefix, contact phone and Chinese address; the list filters."""

import pytest
from django.urls import reverse

from customers import services
from customers.models import Customer


def listed(client, **params) -> list[str]:
    response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    return [customer.number for customer in response.context["page"].items]


@pytest.fixture
def archive(make_customer, manager, colleague, grid, org_tree):
    hotel = make_customer(
        by=manager,
        number="5201000101",
        name="西江千户苗寨客栈",
        address="雷山县西江镇营上村",
        manager=manager,
        district=grid["district"],
        kind=Customer.Kind.COMMERCIAL,
        segment=Customer.Segment.RURAL,
        is_high_sensitivity=True,
        contact={"name": "侯老板", "mobile": "13985550101", "is_primary": True},
    )
    school = make_customer(
        by=colleague,
        number="5201000202",
        name="丹江镇中心小学",
        address="雷山县丹江镇民主路8号",
        manager=colleague,
        district=grid["other_district"],
        vip_tier=Customer.VipTier.VIP,
        contact={"name": "校长", "landline": "0855-3335555", "is_primary": True},
    )
    farm = make_customer(
        by=manager,
        number="5202000303",
        name="永乐茶园",
        address="雷山县永乐镇茶园路",
        manager=manager,
        kind=Customer.Kind.AGRICULTURE,
        segment=Customer.Segment.RURAL,
    )
    return {"hotel": hotel, "school": school, "farm": farm}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("苗寨", ["hotel"]),
        ("丹江镇中心", ["school"]),
        ("520100", ["school", "hotel"]),
        ("5202", ["farm"]),
        ("13985550101", ["hotel"]),
        ("0855-3335555", ["school"]),
        ("08553335555", ["school"]),
        ("西江镇营上", ["hotel"]),
        ("民主路", ["school"]),
        ("茶园", ["farm"]),
        ("  苗寨  ", ["hotel"]),
        ("不存在的客户", []),
    ],
)
def test_search(login, manager, archive, q, expected):
    assert listed(login(manager), q=q) == [archive[key].number for key in expected]


def test_digits_in_the_middle_of_a_number_match_neither_its_start_nor_its_end(login, manager, archive):
    assert listed(login(manager), q="10001") == []


def test_the_end_of_a_number_and_a_part_of_a_phone_number_match(login, manager, archive):
    assert listed(login(manager), q="000101") == [archive["hotel"].number]
    assert listed(login(manager), q="1398555") == [archive["hotel"].number]


def test_a_customer_with_several_matching_contacts_is_listed_once(login, manager, archive):
    hotel = archive["hotel"]
    services.contact_create(customer=hotel, user=manager, name="侯太太", mobile="13985550101")
    services.contact_create(customer=hotel, user=manager, name="侯先生", mobile="13985550101")
    assert listed(login(manager), q="13985550101") == [hotel.number]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "commercial"}, ["hotel"]),
        ({"segment": "rural"}, ["farm", "hotel"]),
        ({"sensitivity": "any"}, ["school", "hotel"]),
        ({"sensitivity": "is_high_sensitivity"}, ["hotel"]),
        ({"sensitivity": "vip"}, ["school"]),
        ({"segment": "rural", "kind": "agriculture"}, ["farm"]),
        ({"q": "雷山县", "segment": "urban"}, ["school"]),
        ({"kind": "bogus"}, ["farm", "school", "hotel"]),
    ],
)
def test_filters(login, manager, archive, params, expected):
    assert listed(login(manager), **params) == [archive[key].number for key in expected]


def test_filter_by_station_district_and_manager(
    login, supervisor, archive, grid, org_tree, colleague, make_customer
):
    sibling = make_customer(number="5203000404", station=org_tree["sibling_station"])
    client = login(supervisor)
    assert listed(client, station=org_tree["sibling_station"].pk) == [sibling.number]
    assert listed(client, district=grid["district"].pk) == [archive["hotel"].number]
    assert listed(client, manager=colleague.pk) == [archive["school"].number]


def test_filters_never_leave_the_users_scope(login, outsider, archive, org_tree, grid, manager):
    client = login(outsider)
    assert listed(client, station=org_tree["station"].pk) == []
    assert listed(client, district=grid["district"].pk) == []
    assert listed(client, manager=manager.pk) == []


def test_the_filter_form_offers_only_the_users_stations(login, manager, supervisor, archive):
    form = login(manager).get(reverse("customers:list")).context["filter_form"]
    assert [unit.name for unit in form.fields["station"].queryset] == ["雷山供电所"]
    form = login(supervisor).get(reverse("customers:list")).context["filter_form"]
    assert [unit.name for unit in form.fields["station"].queryset] == ["雷山供电所", "丹江供电所"]


def test_the_empty_states(login, manager, outsider, archive):
    client = login(outsider)
    assert "您名下和本单位还没有客户档案" in client.get(reverse("customers:list")).content.decode()
    page = login(manager).get(reverse("customers:list"), {"q": "不存在的客户"}).content.decode()
    assert "没有符合条件的客户" in page
