"""Bad input gets a clear Chinese message on the form and saves nothing; the valid request then succeeds."""

import pytest
from django.urls import reverse

from customers.models import Contact, Customer


@pytest.fixture
def customer_data(org_tree, grid, manager) -> dict:
    return {
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
    }


@pytest.fixture
def contact_data() -> dict:
    return {
        "name": "吴医生",
        "relation": "self",
        "mobile": "13985551234",
        "landline": "",
        "wechat_id": "",
        "email": "",
        "preferred_channel": "phone",
        "is_primary": "on",
    }


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "an invalid form is shown again, not redirected"
    return {field: list(messages) for field, messages in response.context["form"].errors.items()}


def create(client, data):
    return client.post(reverse("customers:create"), data)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("52012", "户号必须是10到13位数字。"),
        ("52012345678901", "户号必须是10到13位数字。"),
        ("52O1234567", "户号必须是10到13位数字。"),
    ],
)
def test_a_malformed_customer_number_is_refused(login, manager, customer_data, number, message):
    client = login(manager)
    response = create(client, {**customer_data, "number": number})
    assert message in " ".join(errors_of(response)["number"])
    assert message in response.content.decode()
    assert Customer.objects.count() == 0

    assert create(client, customer_data).status_code == 302
    assert Customer.objects.filter(number="5201234567").exists()


def test_a_duplicate_customer_number_is_refused(login, manager, customer_data, mine):
    client = login(manager)
    response = create(client, {**customer_data, "number": mine.number})
    assert errors_of(response)["number"] == ["户号已存在，请核对后重新输入。"]
    assert Customer.objects.count() == 1

    assert create(client, customer_data).status_code == 302
    assert Customer.objects.count() == 2


def test_a_district_of_another_station_is_refused(login, supervisor, customer_data, grid):
    client = login(supervisor)
    response = create(client, {**customer_data, "district": grid["sibling_district"].pk})
    message = errors_of(response)["district"][0]
    assert "不属于雷山供电所" in message
    assert "丹江所台区" in message
    assert Customer.objects.count() == 0

    assert create(client, customer_data).status_code == 302
    assert Customer.objects.get().line == grid["line"], "the line is taken from the district"


def test_a_line_that_does_not_feed_the_district_is_refused(login, manager, customer_data, grid):
    client = login(manager)
    response = create(client, {**customer_data, "line": grid["other_line"].pk})
    assert errors_of(response)["line"] == ["线路与台区不匹配：台区「永乐一号台区」挂在线路「10kV永乐线」上。"]
    assert Customer.objects.count() == 0

    assert create(client, {**customer_data, "line": grid["line"].pk}).status_code == 302


def test_a_station_outside_the_users_reach_is_refused(login, manager, customer_data, org_tree):
    client = login(manager)
    response = create(client, {**customer_data, "station": org_tree["other_station"].pk, "district": ""})
    assert errors_of(response)["station"] == ["所选供电所不在您的管辖范围内。"]
    assert Customer.objects.count() == 0

    assert create(client, customer_data).status_code == 302


def test_a_missing_name_is_reported(login, manager, customer_data):
    client = login(manager)
    response = create(client, {**customer_data, "name": ""})
    assert errors_of(response)["name"] == ["请填写客户名称。"]
    assert Customer.objects.count() == 0


def test_a_bad_edit_changes_nothing(login, manager, mine, grid):
    client = login(manager)
    url = reverse("customers:edit", args=[mine.number])
    data = {
        "name": "雷山县永乐大酒店",
        "kind": mine.kind,
        "segment": mine.segment,
        "voltage": mine.voltage,
        "address": mine.address,
        "station": mine.station_id,
        "district": grid["district"].pk,
        "line": grid["other_line"].pk,
        "manager": manager.pk,
        "vip_tier": 0,
        "is_important": "on",
    }
    response = client.post(url, data)
    assert "线路与台区不匹配" in errors_of(response)["line"][0]
    mine.refresh_from_db()
    assert mine.name == "雷山县永乐酒店"
    assert mine.history.count() == 1

    assert client.post(url, {**data, "line": grid["line"].pk}).status_code == 302
    mine.refresh_from_db()
    assert mine.name == "雷山县永乐大酒店"
    assert mine.history.count() == 2


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"mobile": "1398555123"}, "mobile", "请输入11位手机号码，例如 13595561234。"),
        ({"mobile": "23985551234"}, "mobile", "请输入11位手机号码，例如 13595561234。"),
        ({"mobile": "", "landline": "12345"}, "landline", "请输入固定电话，区号加号码，例如 0855-8123456。"),
        (
            {"mobile": "", "landline": "0855-81234"},
            "landline",
            "请输入固定电话，区号加号码，例如 0855-8123456。",
        ),
        ({"mobile": "", "landline": ""}, "mobile", "手机号码和固定电话至少填写一项。"),
        ({"name": ""}, "name", "请填写联系人姓名。"),
    ],
)
def test_a_bad_contact_is_refused(login, manager, make_customer, contact_data, change, field, message):
    customer = make_customer(by=manager, manager=manager)
    client = login(manager)
    url = reverse("customers:contact_create", args=[customer.number])
    response = client.post(url, {**contact_data, **change})
    assert errors_of(response)[field] == [message]
    assert message in response.content.decode()
    assert Contact.objects.count() == 0

    assert client.post(url, contact_data).status_code == 302
    assert Contact.objects.get().mobile == "13985551234"


def test_a_landline_alone_is_enough(login, manager, make_customer, contact_data):
    customer = make_customer(by=manager, manager=manager)
    url = reverse("customers:contact_create", args=[customer.number])
    response = login(manager).post(url, {**contact_data, "mobile": "", "landline": "0855-8123456"})
    assert response.status_code == 302
    assert Contact.objects.get().phone == "0855-8123456"


def test_a_bad_contact_edit_changes_nothing(login, manager, mine, contact_data):
    contact = mine.contacts.get()
    client = login(manager)
    url = reverse("customers:contact_edit", args=[mine.number, contact.pk])
    response = client.post(url, {**contact_data, "mobile": "12345"})
    assert "mobile" in errors_of(response)
    contact.refresh_from_db()
    assert contact.mobile == "13885551234"

    assert client.post(url, contact_data).status_code == 302
    contact.refresh_from_db()
    assert contact.mobile == "13985551234"


def test_the_number_of_a_deleted_archive_is_refused_with_a_clear_message(login, manager, customer_data, mine):
    from customers import services

    services.customer_soft_delete(customer=mine, user=manager)
    client = login(manager)
    response = create(client, {**customer_data, "number": mine.number})
    assert errors_of(response)["number"] == ["该户号属于一份已删除的客户档案，请联系系统管理员恢复。"]
    assert Customer.all_objects.count() == 1

    assert create(client, customer_data).status_code == 302
    assert Customer.all_objects.count() == 2
