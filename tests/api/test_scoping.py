"""The API shows each user what the pages show them, and nothing else (ARCHITECTURE rule 1)."""

import pytest

from customers.models import Customer
from tests.api.conftest import CUSTOMERS, SYNC, detail


@pytest.fixture
def archives(mine, colleagues, foreign) -> dict[str, Customer]:
    return {"mine": mine, "colleagues": colleagues, "foreign": foreign}


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


def test_it_hides_other_counties_customers_from_the_outsider(api, outsider, archives):
    client = api(outsider)

    assert numbers(client.get(CUSTOMERS)) == {archives["foreign"].number}
    for number in (archives["mine"].number, archives["colleagues"].number):
        assert client.get(detail(number)).status_code == 404
        assert client.patch(detail(number), {"name": "改名"}, format="json").status_code == 404
        assert client.put(detail(number), {"name": "改名"}, format="json").status_code == 404
        assert client.delete(detail(number)).status_code == 404
    assert Customer.objects.get(pk=archives["mine"].pk).name == "雷山县永乐酒店"
    assert Customer.objects.get(pk=archives["mine"].pk).deleted_at is None


def test_it_answers_401_to_anonymous_clients(api, archives):
    client = api()

    for response in (
        client.get(CUSTOMERS),
        client.get(detail(archives["mine"].number)),
        client.post(CUSTOMERS, {}, format="json"),
        client.get(SYNC),
    ):
        assert response.status_code == 401
        assert "detail" in response.json()


def test_it_rejects_a_wrong_token(api, archives):
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert client.get(CUSTOMERS).status_code == 401


def test_a_station_manager_sees_the_station_and_a_supervisor_the_county(
    api, manager, supervisor, archives, make_customer, org_tree
):
    sibling = make_customer(number="5202000001", station=org_tree["sibling_station"])

    assert numbers(api(manager).get(CUSTOMERS)) == {archives["mine"].number, archives["colleagues"].number}
    assert numbers(api(supervisor).get(CUSTOMERS)) == {
        archives["mine"].number,
        archives["colleagues"].number,
        sibling.number,
    }


def test_phones_are_masked_for_users_who_do_not_own_the_customer(api, manager, colleague, archives):
    number = archives["mine"].number

    own = api(manager).get(detail(number)).json()
    other = api(colleague).get(detail(number)).json()

    assert own["contacts"][0]["mobile"] == "13885551234"
    assert other["contacts"][0]["mobile"] == "138****1234"
    listed = {row["number"]: row for row in api(colleague).get(CUSTOMERS).json()["results"]}
    assert listed[number]["contacts"][0]["mobile"] == "138****1234"
    assert listed[archives["colleagues"].number]["contacts"][0]["mobile"] == "13885552345"


def test_a_colleague_who_does_not_own_the_customer_may_not_delete_it(api, colleague, archives):
    response = api(colleague).delete(detail(archives["mine"].number))

    assert response.status_code == 403
    assert "detail" in response.json()
    assert Customer.objects.filter(pk=archives["mine"].pk).exists()
