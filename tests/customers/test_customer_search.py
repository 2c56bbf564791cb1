"""A caller found by a fragment: 户号 start or end, any four digits of a phone, part of a name or address.

The same search serves the list page (and the header's box, which leads there),
the contact log's customer field and the API's `q` (tests/api/test_customer_search.py);
it never leaves the user's scope, and a term too short or too broad is answered with a reason.
"""

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from customers import selectors
from customers.interactions.forms import CustomerNumberField
from customers.models import Customer, Interaction
from tests.customers.test_query_counts import LIST_PAGE_QUERIES


def listed(client, q: str) -> list[str]:
    response = client.get(reverse("customers:list"), {"q": q})
    assert response.status_code == 200
    return [customer.number for customer in response.context["page"].items]


@pytest.fixture
def callers(make_customer, manager, colleague, outsider, org_tree):
    hotel = make_customer(
        by=manager,
        number="5201010000007",
        name="西江千户苗寨客栈",
        address="雷山县西江镇营上村",
        manager=manager,
        contact={"name": "侯老板", "mobile": "13985555618", "is_primary": True},
    )
    school = make_customer(
        by=colleague,
        number="5201010000123",
        name="丹江镇中心小学",
        address="雷山县丹江镇民主路8号",
        manager=colleague,
        contact={"name": "校长", "landline": "0855-3332468", "is_primary": True},
    )
    farm = make_customer(
        by=manager,
        number="5201020004321",
        name="永乐茶园",
        address="雷山县永乐镇茶园路",
        manager=manager,
        contact={"name": "朱丽霞", "landline": "08557771357", "is_primary": True},
    )
    sibling = make_customer(
        number="5201030000555",
        name="丹江所养殖场",
        address="雷山县大塘镇",
        station=org_tree["sibling_station"],
        contact={"name": "场长", "mobile": "13711115618", "is_primary": True},
    )
    foreign = make_customer(
        by=outsider,
        number="5202010000007",
        name="凯里苗寨酒店",
        address="凯里市营上路",
        station=org_tree["other_station"],
        manager=outsider,
        contact={"name": "外县老板", "mobile": "13600005618", "is_primary": True},
    )
    return {"hotel": hotel, "school": school, "farm": farm, "sibling": sibling, "foreign": foreign}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("000007", ["hotel"]),  # the end of a 户号
        ("0000007", ["hotel"]),
        ("520102", ["farm"]),  # the start of a 户号
        ("52010", ["farm", "school", "hotel"]),
        ("4321", ["farm"]),
        ("5618", ["hotel"]),  # a mobile's last four
        ("9855556", ["hotel"]),  # seven digits of a mobile
        ("139 8555 5618", ["hotel"]),
        ("2468", ["school"]),  # four digits of a landline stored with the dash
        ("5533324", ["school"]),  # across the dash
        ("0855-3332468", ["school"]),
        ("08553332468", ["school"]),
        ("1357", ["farm"]),  # a landline stored without the dash
        ("0855-7771357", ["farm"]),
        ("千户苗", ["hotel"]),  # part of a name
        ("中心小学", ["school"]),
        ("营上村", ["hotel"]),  # part of an address
        ("民主路8号", ["school"]),
        ("雷山县", ["farm", "school", "hotel"]),
        ("10000001", []),  # the middle of a 户号 is neither its start nor its end
        ("9999", []),
    ],
)
def test_a_manager_finds_a_caller_by_a_fragment(login, manager, callers, q, expected):
    assert listed(login(manager), q) == [callers[key].number for key in expected]


def test_the_supervisor_finds_the_callers_of_the_whole_county_and_no_further(login, supervisor, callers):
    client = login(supervisor)
    assert listed(client, "5618") == [callers["sibling"].number, callers["hotel"].number]
    assert listed(client, "苗寨") == [callers["hotel"].number]
    assert listed(client, "000007") == [callers["hotel"].number]


def test_an_outsiders_customer_is_never_found(login, manager, outsider, callers):
    assert callers["foreign"].number not in listed(login(manager), "5618")
    assert listed(login(manager), "凯里") == []
    client = login(outsider)
    assert listed(client, "5618") == [callers["foreign"].number]
    assert listed(client, "千户苗") == []
    assert listed(client, "5201010000007") == []


@pytest.mark.parametrize(
    ("q", "hint"),
    [("561", "请至少输入4位数字"), ("52-0", "请至少输入4位数字"), ("苗", "请至少输入2个字")],
)
def test_a_term_too_short_is_not_searched_and_the_page_says_why(
    login, manager, callers, q, hint, django_assert_max_num_queries
):
    client = login(manager)
    with django_assert_max_num_queries(LIST_PAGE_QUERIES - 1):
        response = client.get(reverse("customers:list"), {"q": q})
    assert list(response.context["page"].items) == []
    assert hint in response.content.decode()


def test_too_many_matches_are_cut_short_and_the_page_asks_for_more(login, manager, callers, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_MATCH_LIMIT", 2)
    response = login(manager).get(reverse("customers:list"), {"q": "雷山县"})
    assert len(response.context["page"].items) == 2
    assert "匹配过多" in response.content.decode()
    assert response.context["search"].too_many


def test_a_search_cut_at_the_limit_says_so_even_when_a_customer_came_back_twice(
    make_customer, manager, callers, monkeypatch
):
    # Found by its 户号 and by its mobile: two rows of the three read, one customer. The
    # landline's customer was never read, so the answer is cut short and must say so.
    make_customer(
        by=manager,
        number="5201010005618",
        name="营上农家乐",
        manager=manager,
        contact={"name": "店主", "mobile": "13800005618", "is_primary": True},
    )
    make_customer(
        by=manager,
        number="5201010000888",
        name="营上小卖部",
        manager=manager,
        contact={"name": "店主", "landline": "0855-3335618", "is_primary": True},
    )
    monkeypatch.setattr(selectors, "SEARCH_MATCH_LIMIT", 2)
    search = selectors.customer_search("5618", customers=Customer.objects.visible_to(manager))
    assert search.too_many
    assert len(search.ids) == len(set(search.ids)) <= 2


@pytest.mark.parametrize("q", ["5618", "千户苗", "000007"])
def test_a_fragment_search_costs_what_a_phone_search_cost(
    login, manager, callers, q, django_assert_max_num_queries
):
    client = login(manager)
    with django_assert_max_num_queries(LIST_PAGE_QUERIES):
        response = client.get(reverse("customers:list"), {"q": q})
    assert [customer.number for customer in response.context["page"].items] == [callers["hotel"].number]


def test_the_header_search_leads_to_the_list_that_finds_the_caller(login, manager, callers):
    client = login(manager)
    response = client.get(reverse("search"), {"q": "5618"}, follow=True)
    assert [customer.number for customer in response.context["page"].items] == [callers["hotel"].number]


# --- The contact log's customer field ----------------------------------------------------


def picked(user, value):
    return CustomerNumberField(user=user).clean(value)


def test_the_contact_log_takes_a_fragment_that_finds_one_customer(manager, callers):
    assert picked(manager, "5618") == callers["hotel"]
    assert picked(manager, "千户苗寨") == callers["hotel"]
    assert picked(manager, "1357") == callers["farm"]
    assert picked(manager, "5201010000123") == callers["school"]


def test_the_contact_log_refuses_a_fragment_that_finds_several_and_names_them(manager, callers):
    with pytest.raises(Exception) as refused:
        picked(manager, "雷山县")
    message = " ".join(refused.value.messages)
    assert "有3位客户与「雷山县」匹配" in message
    assert "西江千户苗寨客栈（5201010000007）" in message
    assert "永乐茶园（5201020004321）" in message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("凯里苗寨", "未找到与「凯里苗寨」匹配的客户"),  # the outsider's customer
        ("5202010000007", "未找到与「5202010000007」匹配的客户"),
        ("56", "请至少输入4位数字"),
    ],
)
def test_the_contact_log_says_why_nothing_was_picked(manager, callers, value, message):
    with pytest.raises(Exception) as refused:
        picked(manager, value)
    assert message in " ".join(refused.value.messages)


def test_a_contact_is_logged_for_the_one_customer_a_fragment_finds(login, manager, callers):
    client = login(manager)
    data = {
        "channel": "phone",
        "direction": "inbound",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "summary": "来电询问电费",
        "mood": "calm",
    }
    response = client.post(reverse("customers:interaction_quick_create"), {**data, "customer": "雷山县"})
    assert response.status_code == 200
    assert "请输入更完整的户号、电话或名称" in response.content.decode()
    assert not Interaction.objects.exists()

    response = client.post(reverse("customers:interaction_quick_create"), {**data, "customer": "5618"})
    assert response.status_code == 302, response.context["form"].errors
    assert Interaction.objects.get().customer == callers["hotel"]


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only")
def test_the_search_is_served_by_trigram_indexes(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE %s AND tablename LIKE %s"
            " ORDER BY indexname",
            ["%gin_trgm_ops%", "customers_%"],
        )
        names = [row[0] for row in cursor.fetchall()]
    assert names == [
        "contact_landline_digits_trgm",
        "contact_mobile_trgm",
        "customer_address_trgm",
        "customer_name_pinyin_trgm",
        "customer_name_trgm",
    ]
    # Each branch's condition can be answered from its index. On a test database's few
    # rows the planner may prefer any scan, so every other way of reading a table is
    # priced out and only bitmap scans on a matching index remain cheap; which plan
    # wins at a million rows is bench/search.py's to measure.
    customers = Customer.objects.all()
    switches = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan", "enable_nestloop")
    with connection.cursor() as cursor:
        for switch in switches:
            cursor.execute(f"SET {switch} = off")
        try:
            plans = {
                term: selectors.search_matches(term, customers).explain()
                for term in ("000007", "5618", "苗寨客")
            }
        finally:
            for switch in switches:
                cursor.execute(f"RESET {switch}")
    # A 户号's start and end are ranges on btrees: the number's own and the reversed number's.
    assert "customer_number_reversed" in plans["000007"] and "customers_customer_number_" in plans["000007"]
    assert "contact_mobile_trgm" in plans["5618"] and "contact_landline_digits_trgm" in plans["5618"]
    assert "customer_name_trgm" in plans["苗寨客"] and "customer_address_trgm" in plans["苗寨客"]


# --- Two characters: 王伟, 营上, zl -----------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("苗寨", ["hotel"]),  # a name's middle
        ("客栈", ["hotel"]),  # its end
        ("永乐", ["farm"]),  # the start of a name and of its address
        ("营上", ["hotel"]),  # an address only
        ("8号", ["school"]),  # a digit and a character: not a phone search
        ("丹江", ["school"]),  # the sibling station's 丹江所 is the supervisor's, not the manager's
        ("yl", ["farm"]),  # the pinyin's initials
        ("YL", ["farm"]),
        ("ZH", ["school", "hotel"]),  # zhen, zhong / zhai, zhan
        ("寨苗", []),
        ("%号", []),  # LIKE's wildcards are plain characters
        ("_号", []),
    ],
)
def test_a_two_character_fragment_is_found_like_a_longer_one(login, manager, callers, q, expected):
    assert listed(login(manager), q) == [callers[key].number for key in expected]


TWO_CHARACTER_TERMS = [
    "苗寨",
    "丹江",
    "雷山",
    "营上",
    "8号",
    "yl",
    "YL",
    "ZH",
    "dj",
    "寨苗",
    "%号",
    "_号",
    "ab",
]


@pytest.mark.parametrize("term", TWO_CHARACTER_TERMS)
def test_two_characters_match_exactly_what_icontains_matches(supervisor, callers, make_customer, term):
    # Mixed case and LIKE's wildcards stored in a name, to be matched as text.
    make_customer(by=supervisor, number="5201010000999", name="AbC 100%号", address="雷山县_号院")
    customers = Customer.objects.visible_to(supervisor)
    plain = customers.filter(
        Q(name__icontains=term) | Q(address__icontains=term) | Q(name_pinyin__contains=term.lower())
    )
    found = set(selectors.search_matches(term, customers))
    assert found == set(plain.values_list("pk", flat=True))


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the two-character indexes exist on PostgreSQL only"
)
def test_a_two_character_search_is_served_by_its_indexes(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT crm_bigrams('王伟'), crm_bigrams('abAB'), crm_bigrams('王'), crm_bigrams(NULL)"
        )
        assert cursor.fetchone() == (["王伟"], ["AB", "BA"], [], None)
    customers = Customer.objects.all()
    # As above: every other way of reading the table priced out, the indexes must match the condition.
    switches = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan", "enable_nestloop")
    with connection.cursor() as cursor:
        for switch in switches:
            cursor.execute(f"SET {switch} = off")
        try:
            plans = {term: selectors.search_matches(term, customers).explain() for term in ("王伟", "zl")}
        finally:
            for switch in switches:
                cursor.execute(f"RESET {switch}")
    assert "customer_name_bigrams" in plans["王伟"] and "customer_address_bigrams" in plans["王伟"]
    assert "customer_name_pinyin_bigrams" in plans["zl"]
    assert "Seq Scan" not in plans["王伟"] + plans["zl"]
