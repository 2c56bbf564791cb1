"""seed_scale: data at scale written set-based, valid for the triggers and the load test."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from bench import common as bench_common
from bench import generate
from customers.models import Contact, Customer
from groups.models import GroupMessage, ServiceGroup
from outages.models import AffectedCustomer, Outage
from tickets.models import Ticket

pytestmark = [
    pytest.mark.django_db,
    # The generator writes with INSERT … SELECT over generate_series and COPY.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="generates in PostgreSQL"),
]

TINY = generate.Scale(counties=1, customers=600, orders=300, open_orders=30, groups=3, messages=90, outages=6)


@pytest.fixture
def people_file(tmp_path, monkeypatch):
    """The people file of the test database, written under tmp_path."""
    monkeypatch.setattr(bench_common, "ROOT", tmp_path)
    return bench_common.load_users_file(connection.settings_dict["NAME"])


def test_it_fills_every_table_at_the_given_sizes(people_file):
    figures = generate.seed("small", scale=TINY, log=lambda line: None)

    assert Customer.objects.count() == 600
    assert Contact.objects.filter(is_primary=True).count() == 600
    assert Customer.objects.filter(is_sensitive=True).count() == 600 // generate.SENSITIVE_EVERY
    assert Ticket.objects.count() == 300
    assert Ticket.objects.open().count() == 30
    assert ServiceGroup.objects.count() == 3
    assert GroupMessage.objects.count() == 90
    assert Outage.objects.count() == 6
    assert AffectedCustomer.objects.exists()
    assert figures["seconds"]["total"] > 0


def test_the_triggers_stamp_every_generated_customer(people_file):
    generate.seed("small", scale=TINY, log=lambda line: None)

    assert not Customer.objects.filter(sync_stamp=0).exists()
    assert not Customer.objects.filter(version__lt=1).exists()
    # A customer created afterwards gets the next id, not one already taken.
    customer = Customer.objects.first()
    twin = Customer.objects.create(number="1234567890", name="新客户", station=customer.station)
    assert twin.pk == 601


def test_open_orders_belong_to_their_customers_manager_and_are_inside_their_clock(people_file):
    generate.seed("small", scale=TINY, log=lambda line: None)

    for ticket in Ticket.objects.open().select_related("customer"):
        assert ticket.assignee_id == ticket.customer.manager_id
        assert ticket.org_unit_id == ticket.customer.station_id
        assert ticket.resolve_due_at > ticket.created_at


def test_it_writes_who_the_load_test_plays(people_file):
    generate.seed("small", scale=TINY, log=lambda line: None)

    people = json.loads(people_file.read_text())
    manager = people["managers"][0]
    assert Customer.objects.filter(
        manager__username=manager["username"], number=manager["customers"][0]
    ).exists()
    assert people["sync_clients"] and len(people["sync_clients"][0]["token"]) == 40
    assert set(manager) == {"username", "customers", "orders", "groups"}


def test_the_people_are_those_of_the_database_seeded(people_file):
    """A benchmark that seeds a database of its own leaves the load test's database's people as they are."""
    other = bench_common.load_users_file("crm_bench_elsewhere")
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text('{"managers": []}')

    generate.seed("small", scale=TINY, log=lambda line: None)

    assert other.read_text() == '{"managers": []}'
    assert bench_common.load_test_people() == json.loads(people_file.read_text())
    assert bench_common.load_test_people()["managers"]


def test_the_people_of_a_database_never_seeded_are_asked_for(people_file):
    with pytest.raises(SystemExit, match="seed this database first"):
        bench_common.load_test_people()


def test_every_supervisor_level_is_played_with_samples_it_may_open(people_file):
    from accounts.models import User

    generate.seed("small", scale=TINY, log=lambda line: None)

    supervisors = json.loads(people_file.read_text())["supervisors"]
    assert {person["level"] for person in supervisors} == {"prefecture", "county", "station"}
    for person in supervisors:
        user = User.objects.get(username=person["username"])
        assert person["orders"], person["username"]
        visible = set(Ticket.objects.visible_to(user).values_list("number", flat=True))
        assert set(person["orders"]) <= visible
        assert set(person["groups"]) <= set(
            ServiceGroup.objects.visible_to(user).values_list("id", flat=True)
        )
        assert set(person["outages"]) <= set(Outage.objects.visible_to(user).values_list("id", flat=True))
    prefecture = next(person for person in supervisors if person["level"] == "prefecture")
    assert prefecture["groups"] and prefecture["outages"]


def test_insert_select_refuses_an_unknown_column():
    with pytest.raises(ValueError, match="unknown columns"):
        generate.insert_select(Customer, {"no_such_column": "1"}, "generate_series(1, 1) AS g")


def test_insert_select_refuses_a_row_missing_a_required_value():
    with pytest.raises(ValueError, match="needs a value"):
        generate.insert_select(Customer, {"number": "'1234567890'"}, "generate_series(1, 1) AS g")


def test_the_command_refuses_without_wipe():
    Customer.objects.create(number="1234567890", name="留存客户", station=_station())

    with pytest.raises(CommandError, match="--wipe"):
        call_command("seed_scale", "--scale", "small")

    assert Customer.objects.filter(number="1234567890").exists()


def _station():
    from accounts.models import OrgUnit

    return OrgUnit.objects.create(code="TST", name="测试供电所", level=4)


def test_every_persona_opens_every_page_the_benchmarks_open(people_file, client):
    """The pages bench/personas.py times, for the people the load test plays, all answer."""
    from accounts.models import User
    from bench import personas

    generate.seed("small", scale=TINY, log=lambda line: None)
    people = json.loads(people_file.read_text())
    manager = people["managers"][0]
    played = [(manager, personas.manager_pages(manager))]
    for level in ("station", "county", "prefecture"):
        person = next(p for p in people["supervisors"] if p["level"] == level)
        played.append((person, personas.supervisor_pages(person)))
    # Every kind of page: the samples hold an order, a group and an outage of each supervisor.
    assert {"order detail", "group detail", "outage page", "dashboard"} <= set(played[-1][1])
    for person, pages in played:
        client.force_login(User.objects.get(username=person["username"]))
        for page, (path, params) in pages.items():
            response = client.get(path, params, secure=True, HTTP_X_FORWARDED_PROTO="https")
            assert response.status_code == 200, (person["username"], page, response.status_code)
