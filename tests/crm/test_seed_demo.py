import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.test import RequestFactory

from accounts.models import OrgUnit, User
from customers.models import Contact, Customer, District, Line
from customers.quality import completeness_score

SMALL = 150
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=SMALL, seed=7, stdout=out, **options)
    return out.getvalue()


def fingerprint() -> list[tuple]:
    rows = []
    for customer in Customer.all_objects.order_by("number").prefetch_related("contacts"):
        rows.append(
            (
                customer.number,
                customer.name,
                customer.kind,
                customer.voltage,
                customer.address,
                customer.district.code if customer.district else None,
                customer.manager.username if customer.manager else None,
                tuple(customer.sensitivity_labels),
                customer.completeness,
                tuple((c.name, c.mobile, c.landline, c.is_primary) for c in customer.contacts.all()),
            )
        )
    return rows


def wipe() -> None:
    Customer.all_objects.all().delete()
    District.objects.all().delete()
    Line.objects.all().delete()
    User.objects.all().delete()
    for level in sorted(OrgUnit.Level.values, reverse=True):
        OrgUnit.objects.filter(level=level).delete()


@pytest.mark.django_db
def test_it_builds_the_org_tree_and_the_demo_staff():
    output = seed()

    counts = {level: OrgUnit.objects.filter(level=level).count() for level in OrgUnit.Level.values}
    assert counts == {
        OrgUnit.Level.PROVINCE: 1,
        OrgUnit.Level.PREFECTURE: 1,
        OrgUnit.Level.COUNTY: 3,
        OrgUnit.Level.STATION: 9,
    }
    assert User.objects.filter(role=User.Role.ACCOUNT_MANAGER).count() == 30
    assert User.objects.filter(role=User.Role.ACCOUNT_MANAGER, org_unit__level=OrgUnit.Level.COUNTY).exists()
    assert User.objects.filter(role=User.Role.SUPERVISOR).count() == 2
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.role == User.Role.ADMINISTRATOR
    assert User.objects.get(username="supervisor").org_unit.level == OrgUnit.Level.PREFECTURE
    assert User.objects.get(username="county_supervisor").org_unit.level == OrgUnit.Level.COUNTY
    manager = User.objects.get(username="manager")
    assert manager.org_unit.level == OrgUnit.Level.STATION
    assert User.objects.filter(username__in=[f"manager{n:02d}" for n in range(1, 30)]).count() == 29
    # A request, as on the login page: the login throttle refuses authentication without one.
    login = RequestFactory().post("/accounts/login/")
    assert authenticate(login, username="manager", password="demo12345") == manager
    assert all(MOBILE.match(m) for m in User.objects.exclude(mobile="").values_list("mobile", flat=True))
    assert "demo12345" in output and "county_supervisor" in output


@pytest.mark.django_db
def test_it_builds_a_consistent_grid_and_customer_archive():
    seed()

    assert Line.objects.count() == 50
    assert District.objects.count() == 300
    assert not District.objects.exclude(line__station=F("station")).exists()
    assert Customer.objects.count() == SMALL
    assert Customer.objects.filter(manager__username="manager").exists()
    flagged = Customer.objects.sensitive().count()
    assert 0 < flagged < SMALL
    assert Customer.objects.stale().exists()
    assert Customer.objects.filter(kind=Customer.Kind.RESIDENT).exists()
    assert Customer.objects.exclude(kind=Customer.Kind.RESIDENT).exists()

    for customer in Customer.objects.prefetch_related("contacts"):
        contacts = list(customer.contacts.all())
        assert 1 <= len(contacts) <= 2
        assert customer.completeness == completeness_score(customer, contacts)
        if customer.district_id:
            assert customer.district.station_id == customer.station_id
    for mobile, landline in Contact.objects.values_list("mobile", "landline"):
        assert mobile or landline
        assert not mobile or MOBILE.match(mobile)
        assert not landline or LANDLINE.match(landline)


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_demo():
    seed()
    first = fingerprint()
    wipe()

    seed()

    assert fingerprint() == first
    wipe()
    call_command("seed_demo", customers=SMALL, seed=8, stdout=io.StringIO())
    assert fingerprint() != first


@pytest.mark.django_db
def test_if_empty_seeds_an_empty_database_once():
    seed(if_empty=True)
    before = (Customer.all_objects.count(), User.objects.count(), Contact.objects.count())

    output = seed(if_empty=True)

    assert (Customer.all_objects.count(), User.objects.count(), Contact.objects.count()) == before
    assert "nothing seeded" in output


@pytest.mark.django_db
def test_without_if_empty_it_refuses_to_seed_twice():
    seed()

    with pytest.raises(CommandError):
        seed()
