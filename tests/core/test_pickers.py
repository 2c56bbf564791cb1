"""The pickers' endpoints (core.pickers): at most 20 matches among the user's own
choices, nothing out of scope, a 400 of the API's shape for bad parameters."""

import json

import pytest
from django.urls import reverse

from core.pickers import PICKER_LIMIT
from customers.views import picker_districts
from tests.api_errors import field_codes
from tests.customers import conftest as customer_fixtures
from tests.factories import DistrictFactory, LineFactory, UserFactory

grid = customer_fixtures.grid

DISTRICTS = reverse("customers:picker_districts")
LINES = reverse("customers:picker_lines")
MANAGERS = reverse("accounts:picker_managers")
STAFF = reverse("accounts:picker_staff")
OWNERS = reverse("groups:picker_owners")


def texts(response) -> list[str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return [row["text"] for row in response.json()["results"]]


def test_a_fragment_finds_districts_by_name_or_code(login, manager, grid):
    client = login(manager)
    assert texts(client.get(DISTRICTS, {"q": "永乐"})) == ["永乐一号台区"]
    assert texts(client.get(DISTRICTS, {"q": "tq-ls-2"})) == ["丹江二号台区"]
    body = client.get(DISTRICTS, {"q": "永乐"}).json()
    assert body == {"results": [{"id": grid["district"].pk, "text": "永乐一号台区"}], "more": False}


def test_an_account_manager_sees_only_the_districts_of_their_station(login, manager, grid):
    assert texts(login(manager).get(DISTRICTS, {"q": "台区"})) == ["永乐一号台区", "丹江二号台区"]


def test_a_supervisor_sees_the_county_and_not_the_other_county(login, supervisor, grid):
    found = texts(login(supervisor).get(DISTRICTS, {"q": "台区"}))
    assert "丹江所台区" in found and "永乐一号台区" in found
    assert "凯里台区" not in found


def test_an_outsider_gets_nothing_of_leishan_even_by_naming_its_ids(login, outsider, grid, org_tree):
    client = login(outsider)
    assert texts(client.get(DISTRICTS, {"q": "永乐"})) == []
    assert texts(client.get(DISTRICTS, {"station": org_tree["station"].pk})) == []
    assert texts(client.get(LINES, {"district": grid["district"].pk})) == []
    assert texts(client.get(LINES, {"q": "永乐"})) == []
    assert texts(client.get(MANAGERS, {"q": "张三"})) == []
    assert texts(client.get(STAFF, {"q": "张"})) == []


def test_the_lines_of_a_district_are_its_own_line_only(login, manager, grid):
    client = login(manager)
    assert texts(client.get(LINES, {"district": grid["district"].pk})) == ["10kV永乐线"]
    assert texts(client.get(LINES, {"district": grid["other_district"].pk})) == ["10kV丹江线"]
    assert texts(client.get(LINES, {"district": grid["district"].pk, "q": "丹江"})) == []
    assert sorted(texts(client.get(LINES))) == ["10kV丹江线", "10kV永乐线"]


def test_a_district_the_user_does_not_see_narrows_the_lines_to_none(login, manager, grid):
    assert texts(login(manager).get(LINES, {"district": grid["foreign_district"].pk})) == []


def test_districts_narrow_by_station_and_line(login, supervisor, grid, org_tree):
    client = login(supervisor)
    assert texts(client.get(DISTRICTS, {"station": org_tree["sibling_station"].pk})) == ["丹江所台区"]
    assert texts(client.get(DISTRICTS, {"line": grid["line"].pk})) == ["永乐一号台区"]


def test_at_most_twenty_answers_and_a_flag_for_more(login, admin_user, org_tree):
    line = LineFactory(station=org_tree["station"])
    DistrictFactory.create_batch(PICKER_LIMIT + 5, station=org_tree["station"], line=line)
    body = login(admin_user).get(DISTRICTS).json()
    assert len(body["results"]) == PICKER_LIMIT and body["more"] is True
    body = login(admin_user).get(DISTRICTS, {"q": "测试"}).json()
    assert body["more"] is True


def test_managers_and_staff_within_reach_with_their_unit(login, supervisor, manager, colleague, outsider):
    client = login(supervisor)
    assert texts(client.get(MANAGERS, {"q": "张"})) == ["张三（雷山供电所）"]
    assert texts(client.get(MANAGERS, {"q": "zhaoliu"})) == []
    # A supervisor is staff, not an account manager.
    assert texts(client.get(MANAGERS, {"q": "王五"})) == []
    assert texts(client.get(STAFF, {"q": "王五"})) == ["王五（雷山县供电局）"]


def test_an_account_manager_may_make_only_themselves_a_group_owner(login, manager, colleague, supervisor):
    assert [t.split(" · ")[0] for t in texts(login(manager).get(OWNERS))] == ["张三"]
    names = [t.split(" · ")[0] for t in texts(login(supervisor).get(OWNERS))]
    assert {"张三", "李四", "王五"} <= set(names)


def test_an_inactive_user_is_never_offered(login, supervisor, org_tree):
    UserFactory(username="gone", real_name="离职人员", org_unit=org_tree["station"], is_active=False)
    assert texts(login(supervisor).get(MANAGERS, {"q": "离职"})) == []


@pytest.mark.parametrize("url", [DISTRICTS, LINES, MANAGERS, STAFF, OWNERS])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url, {"q": "永乐"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", [DISTRICTS, LINES, MANAGERS, STAFF, OWNERS])
def test_only_get(login, manager, url):
    assert login(manager).post(url, {"q": "永乐"}).status_code == 405


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"q": "永乐\x00"}, "q", "invalid_text"),
        ({"q": "\x1b[31m"}, "q", "invalid_text"),
        ({"q": "永" * 10_000}, "q", "max_length"),
        ({"station": "x"}, "station", "invalid"),
        ({"station": "0"}, "station", "min_value"),
        ({"station": "99999999999999999999999"}, "station", "max_value"),
    ],
)
def test_bad_parameters_get_a_400_of_the_api_shape(login, manager, grid, params, field, code):
    client = login(manager)
    response = client.get(DISTRICTS, params)
    assert response.status_code == 400
    codes = field_codes(response)
    assert list(codes) == [field] and code in codes[field]
    # The same request without the bad part answers.
    assert client.get(DISTRICTS, {"q": "永乐"}).status_code == 200


@pytest.mark.parametrize("url", [DISTRICTS, LINES, MANAGERS, STAFF, OWNERS])
def test_nul_and_long_terms_never_500_on_any_picker(login, supervisor, url):
    client = login(supervisor)
    assert client.get(url, {"q": "\x00"}).status_code == 400
    assert client.get(url, {"q": "x" * 10_000}).status_code == 400


def test_a_lone_surrogate_in_the_address_is_no_500(login, manager, grid):
    # Undecodable bytes (a UTF-8 encoded lone surrogate) arrive as replacement characters.
    response = login(manager).get(f"{DISTRICTS}?q=%ED%A0%80")
    assert response.status_code in (200, 400)
    response = login(manager).get(f"{DISTRICTS}?q=%ED%A0%80&station=%ED%A0%80")
    assert response.status_code == 400


def test_one_query_of_districts_whatever_the_number_of_matches(
    login, supervisor, org_tree, django_assert_num_queries
):
    line = LineFactory(station=org_tree["station"])
    DistrictFactory.create_batch(40, station=org_tree["station"], line=line)
    client = login(supervisor)
    client.get(DISTRICTS)  # warm the session
    # Session, user, the districts (the scope's unit ids come from the cache): no count.
    with django_assert_num_queries(3):
        client.get(DISTRICTS, {"q": "测试"})


def test_a_lone_surrogate_reaching_the_view_is_refused(rf, manager, grid):
    # Over HTTP Django decodes one into replacement characters; a caller inside the process may not.
    request = rf.get(DISTRICTS)
    request.GET = request.GET.copy()
    request.GET["q"] = "永\ud800"
    request.user = manager
    response = picker_districts(request)
    assert response.status_code == 400
    assert field_codes(json.loads(response.content)) == {"q": ["invalid_text"]}
