"""Keyset pagination: stable pages by id, never COUNT(*) or OFFSET."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.pagination import keyset_paginate
from customers.models import Customer
from tests.factories import CustomerFactory


@pytest.fixture
def eight(org_tree, manager) -> list[Customer]:
    """Eight customers, newest (highest id) first."""
    made = [CustomerFactory(station=org_tree["station"], manager=manager) for _ in range(8)]
    return sorted(made, key=lambda c: c.pk, reverse=True)


def ids(page) -> list[int]:
    return [item.pk for item in page.items]


def test_walking_forward_and_back(eight):
    qs = Customer.objects.all()
    first = keyset_paginate(qs, params={}, page_size=3)
    assert ids(first) == [c.pk for c in eight[:3]]
    assert (first.has_previous, first.has_next) == (False, True)

    second = keyset_paginate(qs, params={"after": first.next_after}, page_size=3)
    assert ids(second) == [c.pk for c in eight[3:6]]
    assert (second.has_previous, second.has_next) == (True, True)

    last = keyset_paginate(qs, params={"after": second.next_after}, page_size=3)
    assert ids(last) == [c.pk for c in eight[6:]]
    assert (last.has_next, last.next_after) == (False, None)

    back = keyset_paginate(qs, params={"before": last.previous_before}, page_size=3)
    assert ids(back) == ids(second)
    back_to_first = keyset_paginate(qs, params={"before": back.previous_before}, page_size=3)
    assert ids(back_to_first) == ids(first)
    assert (back_to_first.has_previous, back_to_first.previous_before) == (False, None)


def test_pages_do_not_shift_when_rows_are_added(eight, org_tree):
    qs = Customer.objects.all()
    first = keyset_paginate(qs, params={}, page_size=3)
    CustomerFactory(station=org_tree["station"])
    second = keyset_paginate(qs, params={"after": first.next_after}, page_size=3)
    assert ids(second) == [c.pk for c in eight[3:6]]


@pytest.mark.parametrize("cursor", ["abc", "-5", "0", ""])
def test_a_bad_cursor_means_the_first_page(eight, cursor):
    page = keyset_paginate(Customer.objects.all(), params={"after": cursor}, page_size=3)
    assert ids(page) == [c.pk for c in eight[:3]]
    assert not page.has_previous


def test_an_exact_fit_has_no_next_page(eight):
    page = keyset_paginate(Customer.objects.all(), params={}, page_size=8)
    assert len(page) == 8
    assert not page.has_next


def test_one_query_without_count_or_offset(eight):
    with CaptureQueriesContext(connection) as captured:
        keyset_paginate(Customer.objects.all(), params={"after": eight[2].pk}, page_size=3)
        keyset_paginate(Customer.objects.all(), params={"before": eight[6].pk}, page_size=3)
    assert len(captured) == 2
    for query in captured.captured_queries:
        sql = query["sql"].upper()
        assert "COUNT(" not in sql
        assert "OFFSET" not in sql
        assert "LIMIT 4" in sql


def link(content: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', content)
    return html.unescape(found.group(1)) if found else None


def test_the_list_page_links_walk_the_whole_list_keeping_the_filters(login, manager, eight, settings):
    settings.CUSTOMER_PAGE_SIZE = 3
    client = login(manager)
    seen: list[int] = []
    url = reverse("customers:list") + "?segment=urban"
    with CaptureQueriesContext(connection) as captured:
        while url:
            response = client.get(url)
            seen.extend(ids(response.context["page"]))
            next_link = link(response.content.decode(), "next")
            if next_link:
                assert "segment=urban" in next_link
                url = reverse("customers:list") + next_link
            else:
                url = None
    assert seen == [c.pk for c in eight]
    customer_sql = [
        q["sql"].upper() for q in captured.captured_queries if "CUSTOMERS_CUSTOMER" in q["sql"].upper()
    ]
    assert customer_sql
    assert not any("COUNT(" in sql or "OFFSET" in sql for sql in customer_sql)


def test_the_previous_link_comes_back(login, manager, eight, settings):
    settings.CUSTOMER_PAGE_SIZE = 3
    client = login(manager)
    second = client.get(reverse("customers:list"), {"after": eight[2].pk})
    previous_link = link(second.content.decode(), "prev")
    assert previous_link == f"?before={eight[3].pk}"
    back = client.get(reverse("customers:list") + previous_link)
    assert ids(back.context["page"]) == [c.pk for c in eight[:3]]
