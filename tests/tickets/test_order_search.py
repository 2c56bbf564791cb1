"""The order list's text filter (`q`, tickets.search): matches found first, column by column.

Whichever way a term is read (its few matches listed by id, or the plain OR for a
common term), the list page and the API must answer what the plain condition
answers: the same orders, pages, totals and links, for every persona; never an
order out of the user's scope; the number, title, customer name and 户号 prefix
all searched, case aside, with LIKE's wildcards taken literally.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from customers.models import Customer
from tests.factories import CustomerFactory, copied_orders
from tickets import search, selectors
from tickets.models import OPEN_STATUSES, Status, Ticket

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plans")

TICKETS = "/api/v1/tickets/"
PAGE_SIZE = 4
STATUSES = [*Status.values]
TITLES = ["家中停电", "电费有误 100%", "表计故障_Ab", "服务态度投诉", "停电后来电慢"]
TERMS = [
    "停电",  # two characters: the titles' bigram index
    "家中停电",  # longer: the titles' trigram index
    "电",  # one character: no index, every title but one
    "100%",  # LIKE's wildcards are plain characters
    "_ab",  # and case does not count
    "gd",  # every number
    "张伟",  # a customer's name
    "伟",
    "52019",  # a 户号's start
    "2019",  # not a 户号's start, nor in any number or title
    "没有这样的工单",
]
PERSONAS = ["manager", "station_supervisor", "county_supervisor", "prefecture_supervisor", "admin"]


@pytest.fixture
def people(people, admin_user) -> dict[str, User]:
    return {**people, "admin": admin_user}


@pytest.fixture
def orders(org_tree, manager, outsider) -> None:
    """Orders of every status with five titles, for three customers in both counties."""
    now = timezone.now()
    places = [
        (org_tree["station"], manager, "张伟", "5201900001", 9),
        (org_tree["sibling_station"], manager, "王伟", "5202900002", 6),
        (org_tree["other_station"], outsider, "李娜", "5201900003", 20),
    ]
    for index, (unit, owner, name, number, count) in enumerate(places):
        customer = CustomerFactory(station=unit, manager=owner, name=name, number=number)

        def vary(copy, i, index=index, unit=unit):
            copy.org_unit = unit
            copy.title = TITLES[(i + index) % len(TITLES)]
            copy.status = STATUSES[(i * 3 + index) % len(STATUSES)]
            copy.urgency = i % 3
            copy.resolved_at = None if copy.status in OPEN_STATUSES else now

        copied_orders(customer=customer, owner=owner, count=count, vary=vary, tag=str(index))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")


def _plain(user, term) -> set[str]:
    """The orders the plain condition finds: what every read must answer."""
    condition = search.OrderSearch(term=term, ids=None).condition
    return set(Ticket.objects.visible_to(user).filter(condition).values_list("number", flat=True))


# The ways a term is read: its matches listed (the fixture's terms are all rare enough),
# judged common on a small sample (then walked, unless the sample holds few), never listed.
WAYS = {
    "listed": {},
    "sampled": {"SAMPLE_SIZE": 6, "COMMON_IN_SAMPLE": 2},
    "plain": {"ORDER_MATCH_LIMIT": -1},
}


def _walk(user, params, *, way: str, monkeypatch) -> list[tuple]:
    """Every page forward, then back from the last: (numbers, has_next, has_previous, total)."""
    with monkeypatch.context() as patch:
        for name, value in WAYS[way].items():
            patch.setattr(search, name, value)
        pages, cursor = [], {}
        while True:
            page = selectors.ticket_list(user=user, params={**params, **cursor}, page_size=PAGE_SIZE)
            pages.append(page)
            if not page.has_next:
                break
            cursor = {"after": page.next_after}
        back = []
        while (back[-1] if back else pages[-1]).has_previous:
            before = (back[-1] if back else pages[-1]).previous_before
            back.append(
                selectors.ticket_list(user=user, params={**params, "before": before}, page_size=PAGE_SIZE)
            )
    return [
        ([t.number for t in page.items], page.has_next, page.has_previous, page.total)
        for page in pages + back
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_pages_are_those_of_the_plain_condition(persona, people, orders, monkeypatch):
    user = people[persona]
    found_any = False
    for term in TERMS:
        for params in ({"q": term}, {"q": f"  {term} ", "status": "open"}, {"q": term, "urgency": "1"}):
            plain = _walk(user, params, way="plain", monkeypatch=monkeypatch)
            for way in ("listed", "sampled"):
                assert _walk(user, params, way=way, monkeypatch=monkeypatch) == plain, (persona, params, way)
        found = {
            number
            for page in _walk(user, {"q": term}, way="listed", monkeypatch=monkeypatch)
            for number in page[0]
        }
        assert found == _plain(user, term), (persona, term)
        found_any = found_any or bool(found)
    assert found_any


def test_each_column_is_searched(people, orders):
    user = people["admin"]
    assert _plain(user, "停电") == set(
        Ticket.objects.filter(title__contains="停电").values_list("number", flat=True)
    )
    one = Ticket.objects.order_by("pk")[3]
    assert search.order_search(one.number.lower(), orders=Ticket.objects.all()).ids == {one.pk}
    assert search.order_search("100%", orders=Ticket.objects.all()).ids == set(
        Ticket.objects.filter(title="电费有误 100%").values_list("pk", flat=True)
    )
    by_name = search.order_search("王伟", orders=Ticket.objects.all()).ids
    assert by_name == set(Ticket.objects.filter(customer__name="王伟").values_list("pk", flat=True))
    # An order of a customer whose archive was deleted since is still found by the name.
    Customer.all_objects.filter(name="王伟").update(deleted_at=timezone.now())
    assert search.order_search("王伟", orders=Ticket.objects.all()).ids == by_name
    assert _plain(user, "王伟") == set(Ticket.objects.filter(pk__in=by_name).values_list("number", flat=True))
    by_number = search.order_search("52019", orders=Ticket.objects.all()).ids
    assert by_number == set(
        Ticket.objects.filter(customer__name__in=["张伟", "李娜"]).values_list("pk", flat=True)
    )
    assert search.order_search("没有", orders=Ticket.objects.all()).ids == frozenset()


def test_the_matches_are_counted_in_the_scope_only(people, orders, org_tree, monkeypatch):
    """Another county's many matches neither show nor push the user's few past the limit."""
    user = people["station_supervisor"]
    mine = Ticket.objects.filter(org_unit=org_tree["station"], title="家中停电").count()
    others = Ticket.objects.exclude(org_unit=org_tree["station"]).filter(title="家中停电").count()
    assert 0 < mine < others
    monkeypatch.setattr(search, "ORDER_MATCH_LIMIT", mine)
    found = search.order_search("家中停电", orders=Ticket.objects.visible_to(user))
    assert found.listed and len(found.ids) == mine
    page = selectors.ticket_list(user=user, params={"q": "家中停电"}, page_size=50)
    assert {t.org_unit_id for t in page.items} == {org_tree["station"].pk}
    assert page.total == mine


def test_a_common_term_is_read_as_the_plain_condition(people, orders, monkeypatch):
    user = people["county_supervisor"]
    monkeypatch.setattr(search, "ORDER_MATCH_LIMIT", 2)
    found = search.order_search("停电", orders=Ticket.objects.visible_to(user))
    assert not found.listed and found.ids is None
    page = selectors.ticket_list(user=user, params={"q": "停电"}, page_size=100)
    assert {t.number for t in page.items} == _plain(user, "停电")


def test_a_single_character_is_not_looked_for_first(people, orders, django_assert_num_queries):
    with django_assert_num_queries(0):
        found = search.order_search(" 电 ", orders=Ticket.objects.visible_to(people["manager"]))
    assert not found.listed and found.term == "电"


def test_what_a_search_costs_in_queries(people, orders, monkeypatch, django_assert_num_queries):
    orders_seen = Ticket.objects.visible_to(people["county_supervisor"])
    rare = orders_seen.order_by("-pk").first().number  # a copy's: no other number holds it
    # A sample first, then the matches.
    with django_assert_num_queries(2):
        found = search.order_search(rare, orders=orders_seen)
    assert found.listed and len(found.ids) == 1
    # A term that many orders of the sample hold is not looked for: the list walks.
    monkeypatch.setattr(search, "COMMON_IN_SAMPLE", 3)
    with django_assert_num_queries(1):
        found = search.order_search("停电", orders=orders_seen)
    assert not found.listed
    with django_assert_num_queries(2):
        assert search.order_search(rare, orders=orders_seen).listed
    # One character: nothing read before the walk.
    with django_assert_num_queries(0):
        assert not search.order_search("电", orders=orders_seen).listed


def test_a_search_that_finds_nothing_reads_no_order(people, orders, django_assert_num_queries):
    user = people["county_supervisor"]
    selectors.ticket_list(user=user, params={})  # the scope's units are looked up once
    with CaptureQueriesContext(connection) as queries:
        page = selectors.ticket_list(user=user, params={"q": "没有这样的工单", "status": "open"})
    assert page.items == [] and page.total == 0
    # The sample and the matches; the list itself needs no statement for no ids.
    searched = [q["sql"] for q in queries.captured_queries if "tickets_ticket" in q["sql"]]
    assert len(searched) == 2


# --- The API -------------------------------------------------------------------------------


@pytest.fixture
def api(db):
    def client(user: User) -> APIClient:
        api_client = APIClient()
        api_client.force_authenticate(user)
        return api_client

    return client


def _api_walk(client, params) -> tuple[list[str], int]:
    numbers, url, requests = [], TICKETS, 0
    query = {**params, "limit": 3}
    while url:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        body = response.json()
        numbers += [row["number"] for row in body["results"]]
        url, query, requests = body["next"], None, requests + 1
    return numbers, requests


@pytest.mark.parametrize("persona", ["manager", "county_supervisor", "prefecture_supervisor"])
@pytest.mark.parametrize("ordering", ["-id", "id", "-updated_at"])
def test_the_api_pages_are_those_of_the_plain_condition(persona, ordering, people, orders, api, monkeypatch):
    user = people[persona]
    client = api(user)
    for term in ("停电", "伟", "52019", "没有这样的工单"):
        params = {"q": term, "ordering": ordering}
        listed, _requests = _api_walk(client, params)
        monkeypatch.setattr(search, "ORDER_MATCH_LIMIT", -1)
        plain, _requests = _api_walk(client, params)
        monkeypatch.undo()
        assert listed == plain, (persona, ordering, term)
        assert set(listed) == _plain(user, term)


def test_an_out_of_scope_order_is_not_found_by_its_number(people, orders, org_tree, api, login):
    other = Ticket.objects.filter(org_unit=org_tree["other_station"]).first()
    user = people["county_supervisor"]
    assert api(user).get(TICKETS, {"q": other.number}).json()["results"] == []
    assert selectors.ticket_list(user=user, params={"q": other.number}).items == []


# --- PostgreSQL ---------------------------------------------------------------------------------


@postgres_only
def test_each_branch_is_served_by_its_index(people, orders):
    """On a test database's few rows the planner may prefer any scan, so every other way of reading
    a table is priced out: the branches must still be answerable from their indexes. Which plan
    wins at a prefecture's size (and with a scope) is bench/order_search.py's to measure."""
    orders = Ticket.objects.all()
    switches = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan")
    with connection.cursor() as cursor:
        for switch in switches:
            cursor.execute(f"SET {switch} = off")
        try:
            plans = {
                term: search.order_matches(term, orders).explain() for term in ("停电", "家中停电", "张伟")
            }
        finally:
            for switch in switches:
                cursor.execute(f"RESET {switch}")
    assert "ticket_title_bigrams" in plans["停电"] and "ticket_number_bigrams" in plans["停电"]
    assert "ticket_title_trgm" in plans["家中停电"] and "ticket_number_trgm" in plans["家中停电"]
    assert "customer_name_bigrams" in plans["张伟"]
    assert "Seq Scan" not in "".join(plans.values())
