import pytest

from accounts.models import OrgUnit
from customers.models import Customer
from tests.factories import CustomerFactory


@pytest.fixture
def customers(org_tree, manager, colleague):
    return {
        "mine": CustomerFactory(station=org_tree["station"], manager=manager),
        "colleagues": CustomerFactory(station=org_tree["station"], manager=colleague),
        "sibling_station": CustomerFactory(station=org_tree["sibling_station"]),
        "other_county": CustomerFactory(station=org_tree["other_station"]),
    }


def visible(user) -> set[int]:
    rows = set(Customer.objects.visible_to(user).values_list("id", flat=True))
    # The sync feed's form (the units as a list of ids) sees exactly the same rows.
    by_unit_ids = set(Customer.objects.visible_to(user, unit_ids=True).values_list("id", flat=True))
    assert by_unit_ids == rows
    return rows


def test_it_finds_a_subtree_with_one_prefix_query(org_tree, django_assert_num_queries):
    with django_assert_num_queries(1):
        codes = {u.code for u in OrgUnit.objects.subtree_of(org_tree["county"])}
    assert codes == {"LSX", "LS01", "LS02"}


def test_moving_a_unit_moves_its_subtree(org_tree):
    county = org_tree["county"]
    county.parent = org_tree["province"]
    county.save()
    org_tree["station"].refresh_from_db()
    assert org_tree["station"].path == "/GZ/LSX/LS01/"


def test_an_account_manager_sees_own_and_own_unit_customers(customers, manager):
    assert visible(manager) == {customers["mine"].id, customers["colleagues"].id}


def test_a_supervisor_sees_the_county_subtree(customers, supervisor):
    assert visible(supervisor) == {
        customers["mine"].id,
        customers["colleagues"].id,
        customers["sibling_station"].id,
    }


def test_the_outsider_sees_none_of_another_county(customers, outsider):
    assert visible(outsider) == {customers["other_county"].id}


def test_an_administrator_sees_all(customers, admin_user):
    assert visible(admin_user) == {c.id for c in customers.values()}


def test_anonymous_and_inactive_users_see_nothing(customers, manager):
    from django.contrib.auth.models import AnonymousUser

    assert visible(AnonymousUser()) == set()
    manager.is_active = False
    assert visible(manager) == set()


def test_soft_deleted_customers_are_gone_for_everyone(customers, admin_user):
    from django.utils import timezone

    Customer.objects.filter(pk=customers["mine"].pk).update(deleted_at=timezone.now())
    assert customers["mine"].id not in visible(admin_user)
    assert Customer.all_objects.filter(pk=customers["mine"].pk).exists()


def test_identity_card_shows_name_unit_title_and_masked_mobile(manager):
    assert manager.identity_card == "张三 · 雷山供电所 客户经理 · 135****1359"
