"""However an archive is made, it has its first history row, so its first edit shows old → new.

Paths: the form, the import, the API create, the bulk upsert, the admin, seed_demo, and the
set-based generator behind seed_scale (PostgreSQL); existing archives get theirs from a migration.
(seed_activity makes no archives: it opens orders and groups for existing ones.)
"""

import importlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from customers import services
from customers.models import Contact, Customer
from customers.selectors import customer_history
from tests.api import conftest as api_fixtures
from tests.customers.test_import import GOOD_ROWS, run_validation, run_write, upload, xlsx

api = api_fixtures.api
baseline_migration = importlib.import_module("customers.migrations.0009_history_baseline")


def assert_first_edit_shows_old_and_new(customer: Customer, by) -> None:
    customer = Customer.all_objects.get(pk=customer.pk)
    old_name = customer.name
    assert customer.history.filter(history_type="+").count() == 1
    for contact in customer.contacts.all():
        assert contact.history.filter(history_type="+").count() == 1
    services.customer_update(customer=customer, updated_by=by, name=f"{old_name}（更名）")
    row = [row for row in customer_history(customer) if row.field == "客户名称"][0]
    assert (row.old, row.new, row.who) == (old_name, f"{old_name}（更名）", str(by))


def test_an_archive_made_through_the_form(login, manager, org_tree, grid):
    response = login(manager).post(
        reverse("customers:create"),
        {
            "number": "5201234567",
            "name": "雷山县丹江镇卫生院",
            "kind": Customer.Kind.COMMERCIAL,
            "segment": Customer.Segment.URBAN,
            "voltage": Customer.Voltage.V380,
            "address": "雷山县丹江镇新街1号",
            "station": org_tree["station"].pk,
            "district": grid["district"].pk,
            "line": "",
            "manager": manager.pk,
            "vip_tier": 0,
            "notes": "",
        },
    )
    assert response.status_code == 302
    assert_first_edit_shows_old_and_new(Customer.objects.get(number="5201234567"), manager)


def test_archives_made_by_an_import(login, manager, grid):
    client = login(manager)
    upload(client, xlsx(GOOD_ROWS))
    job = run_validation(_job_id())
    client.post(f"/customers/imports/{job.pk}/confirm/")
    run_write(job.pk)
    assert Customer.objects.count() == 2
    for customer in Customer.objects.all():
        assert_first_edit_shows_old_and_new(customer, manager)


def _job_id() -> int:
    from customers.models import ImportJob

    return ImportJob.objects.get().pk


def test_an_archive_made_through_the_api(api, manager, grid):
    response = api(manager).post(
        "/api/v1/customers/",
        {
            "number": "5201000099",
            "name": "雷山县新开超市",
            "station": "LS01",
            "district": grid["district"].code,
            "manager": manager.username,
            "contacts": [{"name": "吴老板", "mobile": "13885550001", "is_primary": True}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert_first_edit_shows_old_and_new(Customer.objects.get(number="5201000099"), manager)


def test_an_archive_made_by_the_bulk_upsert(api, manager, grid):
    body = (
        api(manager)
        .post(
            "/api/v1/customers/bulk/",
            [
                {
                    "number": "5201030004",
                    "name": "新户四",
                    "station": "LS01",
                    "contacts": [{"name": "户主", "mobile": "13885553004", "is_primary": True}],
                }
            ],
            format="json",
        )
        .json()
    )
    assert body["results"][0]["status"] == "created", body
    assert_first_edit_shows_old_and_new(Customer.objects.get(number="5201030004"), manager)


def test_an_archive_made_in_the_admin(login, admin_user, manager, org_tree, grid):
    response = login(admin_user).post(
        reverse("admin:customers_customer_add"),
        {
            "number": "5201777001",
            "name": "后台建档",
            "kind": "resident",
            "segment": "urban",
            "voltage": "220V",
            "address": "雷山县",
            "station": org_tree["station"].pk,
            "district": grid["district"].pk,
            "line": grid["district"].line_id,
            "manager": manager.pk,
            "vip_tier": 0,
            "contacts-TOTAL_FORMS": "1",
            "contacts-INITIAL_FORMS": "0",
            "contacts-0-name": "户主",
            "contacts-0-relation": "self",
            "contacts-0-mobile": "13885550077",
            "contacts-0-preferred_channel": "phone",
            "contacts-0-is_primary": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else ""
    customer = Customer.objects.get(number="5201777001")
    assert customer.history.get().history_user == admin_user
    assert_first_edit_shows_old_and_new(customer, manager)


def test_archives_made_by_seed_demo(manager):
    call_command("seed_demo", customers=25, seed=7, stdout=io.StringIO())
    customers = Customer.objects.all()
    assert customers.count() == 25
    assert Customer.history.filter(history_type="+").count() == 25
    assert Contact.history.filter(history_type="+").count() == Contact.objects.count()
    assert_first_edit_shows_old_and_new(customers.first(), manager)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the generator writes PostgreSQL SQL")
def test_archives_made_by_the_set_based_generator_of_seed_scale(manager, grid):
    from bench import generate

    district = grid["district"]
    district.manager = manager
    district.save()
    Customer.all_objects.all().delete()
    generate.customers_and_contacts(
        generate.Scale(**{**generate.SCALES["small"].__dict__, "customers": 30}), [district]
    )
    assert Customer.objects.count() == 30
    assert Customer.history.filter(history_type="+").count() == 30
    assert Contact.history.filter(history_type="+").count() == 30
    assert_first_edit_shows_old_and_new(Customer.objects.get(number="9000000007"), manager)


def test_the_migration_gives_every_archive_without_history_its_baseline(
    monkeypatch, make_customer, manager, grid
):
    kept = make_customer(by=manager, contact={"name": "户主", "mobile": "13885550001", "is_primary": True})
    written_before = Customer.history.filter(id=kept.pk).count()
    bare = Customer.objects.bulk_create(
        [
            Customer(number=f"52019900{n:02d}", name=f"旧档案{n}", station=grid["district"].station)
            for n in range(12)
        ]
    )
    Contact.objects.bulk_create(
        [Contact(customer=c, name="户主", mobile=f"138855500{n:02d}") for n, c in enumerate(bare)]
    )
    assert not Customer.history.filter(id__in=[c.pk for c in bare]).exists()

    # Small batches, so that several id ranges run.
    monkeypatch.setattr(baseline_migration, "BATCH", 5)
    baseline_migration.backfill_baselines(apps, None)
    baseline_migration.backfill_baselines(apps, None)  # a second run adds nothing

    assert Customer.history.filter(id=kept.pk).count() == written_before
    for customer in bare:
        customer.refresh_from_db()
        record = Customer.history.get(id=customer.pk)
        assert (record.history_type, record.history_date, record.name) == (
            "+",
            customer.created_at,
            customer.name,
        )
        assert customer.contacts.get().history.count() == 1
    assert_first_edit_shows_old_and_new(bare[3], manager)


def test_the_migration_runs_through_the_migration_executor(transactional_db, make_customer, grid):
    from django.db.migrations.executor import MigrationExecutor

    bare = Customer.objects.bulk_create(
        [Customer(number="5201990100", name="旧档案", station=grid["district"].station)]
    )[0]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("customers", "0008_search_trigram_indexes")])
        executor.loader.build_graph()
        executor.migrate([("customers", "0009_history_baseline")])
        assert Customer.history.filter(id=bare.pk, history_type="+").count() == 1
    finally:
        # Back to the latest schema (and its post-migrate steps: SQLite's rebuilt tables get their
        # triggers again) for the tests that run after this one.
        call_command("migrate", verbosity=0)
