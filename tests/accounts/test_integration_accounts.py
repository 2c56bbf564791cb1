"""Integration accounts use their API token only: the web and admin sign-in refuse them, clearly."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import UserFactory


@pytest.fixture
def system(org_tree) -> User:
    return UserFactory(
        username="sys95598", real_name="95598系统", org_unit=org_tree["county"], role=User.Role.INTEGRATION
    )


def test_the_login_form_refuses_an_integration_account_with_a_clear_message(client, system):
    response = client.post(reverse("accounts:login"), {"username": "sys95598", "password": "pass12345"})

    assert response.status_code == 200
    assert "只能通过API令牌访问" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("home")).status_code == 302, "still signed out"


def test_a_wrong_password_gets_the_usual_answer_not_the_role(client, system):
    response = client.post(reverse("accounts:login"), {"username": "sys95598", "password": "wrong"})

    assert "只能通过API令牌访问" not in response.content.decode()
    assert "用户名或密码不正确" in response.content.decode()


def test_the_admin_login_refuses_it_too(client, system):
    User.objects.filter(pk=system.pk).update(is_staff=True)  # even if somebody ticked the box

    response = client.post(reverse("admin:login"), {"username": "sys95598", "password": "pass12345"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_an_account_manager_still_signs_in(client, manager):
    response = client.post(reverse("accounts:login"), {"username": "zhangsan", "password": "pass12345"})

    assert response.status_code == 302


def test_its_token_works(system):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system).key}")

    assert client.get("/api/v1/customers/").status_code == 200


def test_an_integration_account_needs_a_unit_and_no_staff_status(org_tree):
    account = User(username="mkt", real_name="营销系统", role=User.Role.INTEGRATION)
    with pytest.raises(ValidationError) as unbound:
        account.full_clean(exclude=["password"])
    assert "org_unit" in unbound.value.message_dict

    account.org_unit, account.is_staff = org_tree["county"], True
    with pytest.raises(ValidationError) as staff:
        account.full_clean(exclude=["password"])
    assert "role" in staff.value.message_dict

    account.is_staff = False
    account.full_clean(exclude=["password"])


def test_its_scope_is_the_subtree_of_its_unit(system, org_tree):
    from customers.models import Customer
    from tests.factories import CustomerFactory

    inside = CustomerFactory(station=org_tree["sibling_station"])
    outside = CustomerFactory(station=org_tree["other_station"])

    visible = set(Customer.objects.visible_to(system))

    assert inside in visible and outside not in visible
