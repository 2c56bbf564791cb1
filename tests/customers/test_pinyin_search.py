"""A caller found by the pinyin of a name: full (zhulixia) or initials (zlx) → 朱丽霞.

The pinyin is stored on the customer (customers.pinyin) and follows the name on
every write path: a save, a service update, bulk_create and bulk_update (imports,
upserts, the demo), and the migration that filled it for the archive already there.
"""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from customers import selectors, services
from customers.interactions.forms import CustomerNumberField
from customers.models import Customer
from customers.pinyin import name_pinyin, pinyin_term
from tests.customers.test_query_counts import LIST_PAGE_QUERIES


def listed(client, q: str) -> list[str]:
    response = client.get(reverse("customers:list"), {"q": q})
    assert response.status_code == 200
    return [customer.number for customer in response.context["page"].items]


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("朱丽霞", "zhulixia zlx"),
        ("吕小红", "lvxiaohong lxh"),  # ü typed as v
        ("ABC贸易公司", "abcmaoyigongsi amygs"),
        ("西江苗寨（一店）", "xijiangmiaozhaiyidian xjmzyd"),  # punctuation dropped
        ("曾国藩", "cengguofan cgf zengguofan zgf"),  # the surname's own reading too
        ("", ""),
    ],
)
def test_the_stored_pinyin_of_a_name(name, stored):
    assert name_pinyin(name) == stored


@pytest.mark.parametrize(
    ("term", "normalized"),
    [
        ("zlx", "zlx"),
        ("ZhuLiXia", "zhulixia"),
        ("zhu li xia", "zhulixia"),
        ("xi'an", "xian"),
        ("朱丽", ""),
        ("zl1", ""),
    ],
)
def test_a_term_of_letters_is_a_pinyin_term(term, normalized):
    assert pinyin_term(term) == normalized


@pytest.fixture
def callers(make_customer, manager, outsider, org_tree):
    return {
        "zhu": make_customer(by=manager, number="5201010000001", name="朱丽霞", manager=manager),
        "zhang": make_customer(by=manager, number="5201010000002", name="张力", manager=manager),
        "tea": make_customer(
            by=manager, number="5201010000003", name="雷山县银球茶叶有限公司", manager=manager
        ),
        "zeng": make_customer(by=manager, number="5201010000004", name="曾国华", manager=manager),
        "foreign": make_customer(
            by=outsider,
            number="5202010000001",
            name="朱丽霞",
            station=org_tree["other_station"],
            manager=outsider,
        ),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("zhulixia", ["zhu"]),
        ("zlx", ["zhu"]),
        ("ZLX", ["zhu"]),
        ("Zhu Li Xia", ["zhu"]),
        ("lixia", ["zhu"]),  # a part of the full pinyin
        ("zl", ["zhang", "zhu"]),  # initials of both
        ("yinqiu", ["tea"]),
        ("lsx", ["tea"]),
        ("zenggh", []),  # full and initials never run together
        ("zengguohua", ["zeng"]),
        ("zgh", ["zeng"]),
        ("cgh", ["zeng"]),
        ("wxy", []),
    ],
)
def test_a_manager_finds_a_caller_by_pinyin(login, manager, callers, q, expected):
    assert listed(login(manager), q) == [callers[key].number for key in expected]


def test_pinyin_never_finds_a_customer_out_of_scope(login, outsider, manager, callers):
    assert listed(login(manager), "zlx") == [callers["zhu"].number]
    assert listed(login(outsider), "zlx") == [callers["foreign"].number]


def test_a_pinyin_search_costs_what_a_name_search_costs(
    login, manager, callers, django_assert_max_num_queries
):
    client = login(manager)
    with django_assert_max_num_queries(LIST_PAGE_QUERIES):
        assert listed(client, "zlx") == [callers["zhu"].number]


def test_the_contact_log_picks_a_caller_by_pinyin(manager, callers):
    assert CustomerNumberField(user=manager).clean("zhulixia") == callers["zhu"]


# --- Kept on every write path ----------------------------------------------------------


def test_a_renamed_customer_is_found_by_its_new_pinyin(login, manager, callers):
    services.customer_update(customer=callers["zhu"], updated_by=manager, name="王小明")
    client = login(manager)
    assert listed(client, "wxm") == [callers["zhu"].number]
    assert listed(client, "zlx") == []


def test_a_save_of_the_name_alone_keeps_the_pinyin(callers):
    customer = callers["zhang"]
    customer.name = "李四海"
    customer.save(update_fields=["name"])
    assert Customer.objects.get(pk=customer.pk).name_pinyin == "lisihai lsh"


def test_bulk_writes_keep_the_pinyin(org_tree):
    Customer.objects.bulk_create(
        [Customer(number="5203010000001", name="杨光明", station=org_tree["station"])]
    )
    customer = Customer.objects.get(number="5203010000001")
    assert customer.name_pinyin == "yangguangming ygm"
    customer.name = "杨光亮"
    Customer.all_objects.bulk_update([customer], ["name"])
    assert Customer.objects.get(pk=customer.pk).name_pinyin == "yangguangliang ygl"


def test_the_migration_fills_the_archive_already_there_and_changes_no_version(callers):
    migration = importlib.import_module("customers.migrations.0015_customer_name_pinyin")
    Customer.all_objects.update(name_pinyin="")
    versions = dict(Customer.all_objects.values_list("pk", "version"))
    # The fill reads only the editor's connection (SQLite's editor cannot open inside a test's transaction).
    migration.fill(apps, SimpleNamespace(connection=connection))
    assert Customer.all_objects.get(pk=callers["zhu"].pk).name_pinyin == "zhulixia zlx"
    assert (
        dict(Customer.all_objects.values_list("pk", "version")) == versions
        or connection.vendor != "postgresql"
    )


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only")
def test_the_pinyin_branch_is_served_by_its_trigram_index(db):
    switches = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan", "enable_nestloop")
    with connection.cursor() as cursor:
        for switch in switches:
            cursor.execute(f"SET {switch} = off")
        try:
            plan = selectors.search_matches("zlx", Customer.objects.all()).explain()
        finally:
            for switch in switches:
                cursor.execute(f"RESET {switch}")
    assert "customer_name_pinyin_trgm" in plan
