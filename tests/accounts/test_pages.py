import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token


def test_the_login_page_speaks_chinese(client, db):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()
    assert response.headers["Content-Language"] == "zh-hans"


def test_a_wrong_password_is_refused_with_a_clear_message(client, manager):
    response = client.post(reverse("accounts:login"), {"username": "zhangsan", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("accounts:login"), {"username": "zhangsan", "password": "pass12345"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


def test_pages_need_a_login(client, db):
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_header_shows_the_real_name_identity_card(login, manager):
    page = login(manager).get(reverse("customers:list")).content.decode()
    assert "张三 · 雷山供电所 客户经理 · 135****1359" in page


def test_a_county_account_manager_is_titled_by_tier(org_tree):
    from tests.factories import UserFactory

    county_manager = UserFactory(real_name="陈七", mobile="", org_unit=org_tree["county"])
    assert county_manager.identity_card == "陈七 · 雷山县供电局 县级客户经理"


def test_password_change_keeps_the_user_signed_in(login, manager):
    other_session = Client()
    other_session.force_login(manager)
    client = login(manager)
    url = reverse("accounts:password_change")
    bad = client.post(url, {"old_password": "nope", "new_password1": "x", "new_password2": "y"})
    assert bad.status_code == 200
    manager.refresh_from_db()
    assert manager.check_password("pass12345")
    response = client.post(
        url,
        {"old_password": "pass12345", "new_password1": "Dianwang#2026", "new_password2": "Dianwang#2026"},
    )
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.check_password("Dianwang#2026")
    # The session that changed the password still opens signed-in pages; another
    # session of the same user, signed in before the change, is signed out.
    assert client.get(response["Location"]).status_code == 200
    assert client.get(reverse("customers:list")).status_code == 200
    assert other_session.get(reverse("customers:list")).status_code == 302


def test_logout_is_a_post(login, manager):
    client = login(manager)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_api_token_can_be_made_from_the_command_line(manager):
    call_command("drf_create_token", "zhangsan")
    assert Token.objects.filter(user=manager).exists()


@pytest.mark.parametrize("language, word", [("en", "Sign in"), ("zh-hans", "登录")])
def test_the_language_switch_changes_the_interface(client, db, language, word):
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    page = client.get(reverse("accounts:login")).content.decode()
    assert word in page
