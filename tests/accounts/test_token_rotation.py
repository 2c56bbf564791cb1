"""An API token stops working once its user's password changes, whichever way it changed."""

from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

CUSTOMERS = "/api/v1/customers/"
NEW = "Dianwang#2026"


def api_with(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_the_password_change_page_revokes_the_token(login, manager):
    token = Token.objects.create(user=manager)
    assert api_with(token).get(CUSTOMERS).status_code == 200
    client = login(manager)
    url = reverse("accounts:password_change")
    refused = client.post(url, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})
    assert refused.status_code == 200
    assert api_with(token).get(CUSTOMERS).status_code == 200, "a refused change keeps the token"
    response = client.post(url, {"old_password": "pass12345", "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302
    assert api_with(token).get(CUSTOMERS).status_code == 401
    assert not Token.objects.filter(user=manager).exists()


def test_the_admin_setting_a_password_revokes_the_token(login, admin_user, manager):
    token = Token.objects.create(user=manager)
    url = reverse("admin:auth_user_password_change", args=[manager.pk])
    response = login(admin_user).post(url, {"password1": NEW, "password2": NEW, "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:500]
    manager.refresh_from_db()
    assert manager.check_password(NEW)
    assert api_with(token).get(CUSTOMERS).status_code == 401


def test_set_password_in_code_revokes_the_token(manager, colleague):
    token = Token.objects.create(user=manager)
    kept = Token.objects.create(user=colleague)
    manager.set_password(NEW)
    manager.save()
    assert api_with(token).get(CUSTOMERS).status_code == 401
    assert api_with(kept).get(CUSTOMERS).status_code == 200, "only that user's token goes"


def test_other_changes_keep_the_token(client, manager, django_assert_max_num_queries):
    token = Token.objects.create(user=manager)
    manager.real_name = "张三丰"
    manager.save()
    # Signing in stamps last_login without reading the password back.
    with django_assert_max_num_queries(1):
        manager.save(update_fields=["last_login"])
    signed_in = client.post(reverse("accounts:login"), {"username": "zhangsan", "password": "pass12345"})
    assert signed_in.status_code == 302
    assert api_with(token).get(CUSTOMERS).status_code == 200


def test_the_changepassword_command_revokes_the_token(manager, monkeypatch):
    token = Token.objects.create(user=manager)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW)
    call_command("changepassword", "zhangsan")
    assert api_with(token).get(CUSTOMERS).status_code == 401
