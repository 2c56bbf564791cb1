"""Pages with thousands of districts, lines and managers to choose from send only the
chosen option of each picker (core.pickers); validation stays scoped on the server."""

import re

import pytest
from django.urls import reverse

from accounts.models import User
from customers.models import Customer, District, Line
from groups.models import GroupKind, ServiceGroup
from tests.factories import CustomerFactory

DISTRICT_COUNT = 3000
# The filter bar's empty choice and, when one is chosen, that one: "a handful".
MAX_PICKER_OPTIONS = 2


def options_of(html: str, name: str) -> list[str]:
    """The option labels of the select named `name` (exactly one such select on the page)."""
    selects = re.findall(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert len(selects) == 1, f"{name}: {len(selects)} selects"
    return re.findall(r"<option[^>]*>([^<]*)</option>", selects[0])


def picker_attrs(html: str, name: str) -> str:
    return re.search(rf'<select name="{name}"([^>]*)>', html).group(1)


@pytest.fixture
def big_grid(org_tree, grid) -> dict:
    """3,000 districts on 300 lines and 300 account managers across the county's two stations."""
    lines = Line.objects.bulk_create(
        Line(
            code=f"XL-BIG-{n:04d}",
            name=f"10kV大网{n}线",
            station=org_tree["station" if n % 2 else "sibling_station"],
        )
        for n in range(300)
    )
    District.objects.bulk_create(
        District(
            code=f"TQ-BIG-{n:05d}",
            name=f"大网{n}号台区",
            station_id=lines[n % 300].station_id,
            line=lines[n % 300],
        )
        for n in range(DISTRICT_COUNT)
    )
    User.objects.bulk_create(
        User(
            username=f"big{n}",
            real_name=f"大网经理{n}",
            org_unit=org_tree["station" if n % 2 else "sibling_station"],
            role=User.Role.ACCOUNT_MANAGER,
        )
        for n in range(300)
    )
    return grid


def test_the_customer_list_sends_no_thousands_of_options(login, supervisor, big_grid):
    html = login(supervisor).get(reverse("customers:list")).content.decode()
    assert len(options_of(html, "district")) <= MAX_PICKER_OPTIONS
    assert len(options_of(html, "manager")) <= MAX_PICKER_OPTIONS
    assert html.count("<option") < 60, "only the small fixed lists (kinds, stations, flags) remain"
    assert len(html) < 80_000
    assert 'data-picker="/customers/pickers/districts/"' in picker_attrs(html, "district")
    assert 'data-picker="/accounts/pickers/managers/"' in picker_attrs(html, "manager")


def test_a_chosen_district_and_manager_are_kept_and_filter(login, supervisor, manager, big_grid, org_tree):
    CustomerFactory(station=org_tree["station"], district=big_grid["district"], manager=manager, name="杨丽")
    CustomerFactory(station=org_tree["station"], district=big_grid["other_district"], name="吴敏")
    client = login(supervisor)
    response = client.get(
        reverse("customers:list"), {"district": big_grid["district"].pk, "manager": manager.pk}
    )
    html = response.content.decode()
    assert options_of(html, "district") == ["全部台区", "永乐一号台区"]
    assert re.search(rf'<option value="{big_grid["district"].pk}" selected>', html)
    assert options_of(html, "manager") == ["全部客户经理", "张三（雷山供电所）"]
    assert [c.name for c in response.context["page"].items] == ["杨丽"]


def test_a_district_out_of_scope_in_the_filter_is_ignored_not_shown(login, outsider, big_grid):
    response = login(outsider).get(reverse("customers:list"), {"district": big_grid["district"].pk})
    assert response.status_code == 200
    assert options_of(response.content.decode(), "district") == ["全部台区"]
    for bad in ("x", "0", "-1", "99999999999999999999", "1\x00"):
        assert (
            login(outsider).get(reverse("customers:list"), {"district": bad, "manager": bad}).status_code
            == 200
        )


@pytest.mark.parametrize("with_choice", [False, True])
def test_the_list_costs_the_same_few_queries_with_3000_districts(
    login, supervisor, manager, grid, org_tree, with_choice, django_assert_num_queries, request
):
    params = {"district": grid["district"].pk, "manager": manager.pk} if with_choice else {}
    client = login(supervisor)
    client.get(reverse("customers:list"), params)
    # Session, user, unit, the page, unread count, stations; when chosen, the district and
    # the manager twice each (the filter's validation, the picker's chosen option).
    expected = 10 if with_choice else 6
    with django_assert_num_queries(expected):
        client.get(reverse("customers:list"), params)
    request.getfixturevalue("big_grid")
    with django_assert_num_queries(expected):
        client.get(reverse("customers:list"), params)


def test_the_order_list_sends_no_thousands_of_assignees(login, supervisor, big_grid, manager):
    client = login(supervisor)
    html = client.get(reverse("tickets:list")).content.decode()
    assert len(options_of(html, "assignee")) <= MAX_PICKER_OPTIONS
    assert 'data-picker="/accounts/pickers/staff/"' in picker_attrs(html, "assignee")
    html = client.get(reverse("tickets:list"), {"assignee": manager.pk}).content.decode()
    assert options_of(html, "assignee") == ["全部处理人", "张三（雷山供电所）"]
    assert len(html) < 120_000


# --- The customer form ----------------------------------------------------------------


@pytest.fixture
def customer_data(org_tree, grid, manager) -> dict:
    return {
        "number": "5201234599",
        "name": "雷山县永乐镇卫生院",
        "kind": Customer.Kind.COMMERCIAL,
        "segment": Customer.Segment.URBAN,
        "voltage": Customer.Voltage.V380,
        "address": "雷山县永乐镇1号",
        "station": org_tree["station"].pk,
        "district": grid["district"].pk,
        "line": grid["line"].pk,
        "manager": manager.pk,
        "vip_tier": 0,
        "notes": "",
    }


def form_errors(response) -> dict:
    assert response.status_code == 200
    return {field: list(messages) for field, messages in response.context["form"].errors.items()}


def test_the_new_customer_form_offers_pickers_with_the_line_following_the_district(
    login, supervisor, big_grid
):
    html = login(supervisor).get(reverse("customers:create")).content.decode()
    for name in ("district", "line", "manager"):
        assert len(options_of(html, name)) == 1, name
    assert 'data-picker-params="station=id_station"' in picker_attrs(html, "district")
    assert 'data-picker-params="district=id_district,station=id_station"' in picker_attrs(html, "line")
    # The search box is labelled and hidden until the script shows it.
    assert re.search(
        r'<input type="search"[^>]*hidden[^>]*data-picker-search="id_district" aria-label="搜索台区"', html
    )


def test_a_customer_round_trips_through_the_pickers(login, supervisor, customer_data, grid, manager):
    client = login(supervisor)
    response = client.post(reverse("customers:create"), customer_data)
    assert response.status_code == 302, form_errors(response)
    customer = Customer.objects.get(number=customer_data["number"])
    assert (customer.district, customer.line, customer.manager) == (grid["district"], grid["line"], manager)
    html = client.get(reverse("customers:edit", args=[customer.number])).content.decode()
    assert options_of(html, "district") == ["未指定台区", "永乐一号台区"]
    assert options_of(html, "line") == ["未指定线路", "10kV永乐线"]
    assert options_of(html, "manager")[1] == "张三（雷山供电所）"


def test_a_line_of_another_district_is_refused_in_chinese(login, supervisor, customer_data, grid):
    client = login(supervisor)
    response = client.post(reverse("customers:create"), {**customer_data, "line": grid["other_line"].pk})
    assert form_errors(response) == {
        "line": ["线路与台区不匹配：台区「永乐一号台区」挂在线路「10kV永乐线」上。"]
    }
    assert not Customer.objects.filter(number=customer_data["number"]).exists()
    # The refused line is still shown, chosen, so the user sees what to change.
    assert options_of(response.content.decode(), "line") == ["未指定线路", "10kV丹江线"]
    assert client.post(reverse("customers:create"), customer_data).status_code == 302


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("district", "foreign_district", "所选台区不在您的管辖范围内。"),
        ("district", "abc", "所选台区不在您的管辖范围内。"),
        ("district", "99999999999999999999", "所选台区不在您的管辖范围内。"),
        ("line", "0", "所选线路不在您的管辖范围内。"),
        ("manager", "outsider", "所选客户经理不在您的管辖范围内。"),
    ],
)
def test_a_choice_out_of_scope_is_a_field_error(
    login, supervisor, outsider, customer_data, grid, field, value, message
):
    value = {"foreign_district": grid["foreign_district"].pk, "outsider": outsider.pk}.get(value, value)
    response = login(supervisor).post(reverse("customers:create"), {**customer_data, field: value})
    assert message in form_errors(response)[field]
    assert not Customer.objects.filter(number=customer_data["number"]).exists()


# --- Groups and outages --------------------------------------------------------------


def test_the_group_form_pickers(login, supervisor, big_grid, manager):
    client = login(supervisor)
    html = client.get(reverse("groups:create")).content.decode()
    assert len(options_of(html, "district")) == 1 and len(options_of(html, "line")) == 1
    assert options_of(html, "owner") == ["请选择负责人", supervisor.identity_card]
    data = {
        "name": "永乐一号台区服务群",
        "kind": GroupKind.DISTRICT,
        "owner": manager.pk,
        "district": big_grid["foreign_district"].pk,
        "rules": "文明发言。",
    }
    response = client.post(reverse("groups:create"), data)
    assert "请从列表中选择台区。" in response.context["form"].errors["district"]
    response = client.post(reverse("groups:create"), {**data, "district": big_grid["district"].pk})
    assert response.status_code == 302
    assert ServiceGroup.objects.get().district == big_grid["district"]


def test_the_outage_form_pickers(login, supervisor, big_grid):
    client = login(supervisor)
    html = client.get(reverse("outages:create")).content.decode()
    assert options_of(html, "districts") == [] and options_of(html, "lines") == []
    assert "multiple" in picker_attrs(html, "districts")
    data = {
        "kind": "fault",
        "reason": "10kV永乐线故障跳闸",
        "districts": [big_grid["district"].pk, big_grid["foreign_district"].pk],
        "lines": [big_grid["line"].pk],
    }
    response = client.post(reverse("outages:create"), data)
    assert response.status_code == 200 and "districts" in response.context["form"].errors
    html = response.content.decode()
    # What was chosen within scope is shown again, chosen; the foreign id is not.
    assert options_of(html, "districts") == ["永乐一号台区"]
    assert options_of(html, "lines") == ["10kV永乐线"]
