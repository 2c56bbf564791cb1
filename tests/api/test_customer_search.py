"""The API's `q` finds a caller by a fragment, within the client's scope, and refuses a term too short."""

import pytest

from tests.api.conftest import CUSTOMERS
from tests.api_errors import field_messages
from tests.customers import test_customer_search

callers = test_customer_search.callers


def test_the_api_q_finds_by_fragment_within_scope(api, manager, outsider, supervisor, callers):
    def numbers(user, q):
        response = api(user).get(CUSTOMERS, {"q": q})
        assert response.status_code == 200, response.content
        return {row["number"] for row in response.json()["results"]}

    assert numbers(manager, "000007") == {callers["hotel"].number}
    assert numbers(manager, "2468") == {callers["school"].number}
    assert numbers(manager, "营上村") == {callers["hotel"].number}
    assert numbers(supervisor, "5618") == {callers["hotel"].number, callers["sibling"].number}
    assert numbers(outsider, "000007") == {callers["foreign"].number}


@pytest.mark.parametrize("q", ["561", "苗"])
def test_the_api_refuses_a_term_too_short_with_the_reason(api, manager, callers, q):
    response = api(manager).get(CUSTOMERS, {"q": q})
    assert response.status_code == 400
    assert list(field_messages(response)) == ["q"]
    assert "请至少输入" in field_messages(response)["q"][0]
    assert api(manager).get(CUSTOMERS, {"q": "5618"}).status_code == 200
