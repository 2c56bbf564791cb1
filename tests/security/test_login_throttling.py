"""Login throttling: repeated wrong passwords lock one username from one address for a while."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

LOGIN = "accounts:login"
LOCKED_TEXT = "登录失败次数过多，该账户已暂时锁定"


def attempt(client, username: str, password: str, address: str = "10.1.1.1"):
    return client.post(reverse(LOGIN), {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, username: str, times: int, address: str = "10.1.1.1"):
    return [attempt(client, username, "wrong-password", address) for _ in range(times)]


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(client, manager):
    responses = fail(client, "zhangsan", 4)
    assert all(r.status_code == 200 and "用户名或密码不正确" in r.content.decode() for r in responses)

    fifth = attempt(client, "zhangsan", "wrong-password")
    assert fifth.status_code == 429
    assert LOCKED_TEXT in fifth.content.decode()

    right = attempt(client, "zhangsan", "pass12345")
    page = right.content.decode()
    assert right.status_code == 429
    assert LOCKED_TEXT in page and "15分钟" in page
    assert '<nav class="navbar' in page, "the lockout page uses the site's layout"
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_resets_the_count(client, manager):
    fail(client, "zhangsan", 4)
    assert attempt(client, "zhangsan", "pass12345").status_code == 302
    client.post(reverse("accounts:logout"))

    responses = fail(client, "zhangsan", 4)

    assert [r.status_code for r in responses] == [200] * 4
    assert attempt(client, "zhangsan", "pass12345").status_code == 302


def test_another_user_is_not_locked(client, manager, colleague):
    fail(client, "zhangsan", 5)

    response = attempt(client, "lisi", "pass12345")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(colleague.pk)


def test_the_same_user_from_another_address_is_not_locked(client, manager):
    fail(client, "zhangsan", 5, address="10.1.1.1")

    assert attempt(client, "zhangsan", "pass12345", address="10.2.2.2").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, manager):
    fail(client, "zhangsan", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert attempt(client, "zhangsan", "pass12345").status_code == 302


def test_the_client_address_is_taken_past_trusted_proxies_only(client, manager, settings):
    settings.TRUSTED_PROXIES = 1
    forged = {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 10.9.9.9"}
    for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        client.post(
            reverse(LOGIN),
            {"username": "zhangsan", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=f"{spoof}, 10.9.9.9",
            REMOTE_ADDR="172.16.0.2",
        )

    # A client rotating the left-hand part of X-Forwarded-For stays one address.
    response = client.post(
        reverse(LOGIN), {"username": "zhangsan", "password": "pass12345"}, REMOTE_ADDR="172.16.0.2", **forged
    )
    assert response.status_code == 429
    assert AccessAttempt.objects.get().ip_address == "10.9.9.9"


@pytest.mark.parametrize("path", ["/api/v1/customers/"])
def test_api_token_and_session_auth_still_work(client, manager, path):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=manager)
    assert client.get(path, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    client.force_login(manager)
    assert client.get(path).status_code == 200


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, manager, settings):
    settings.TRUSTED_PROXIES = 0
    for spoof in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        client.post(
            reverse(LOGIN),
            {"username": "zhangsan", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR=spoof,
            REMOTE_ADDR="172.16.0.2",
        )

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"172.16.0.2"}
    assert attempt(client, "zhangsan", "pass12345", address="172.16.0.2").status_code == 429


def test_a_stranger_behind_the_proxy_cannot_lock_out_a_user_elsewhere(client, manager, settings):
    settings.TRUSTED_PROXIES = ["172.16.0.0/24"]
    behind_proxy = {"REMOTE_ADDR": "172.16.0.2"}
    for _n in range(6):
        client.post(
            reverse(LOGIN),
            {"username": "zhangsan", "password": "wrong-password"},
            HTTP_X_FORWARDED_FOR="203.0.113.66",
            **behind_proxy,
        )

    # The stranger is locked out; the user at the office, through the same proxy, is not.
    assert AccessAttempt.objects.get().ip_address == "203.0.113.66"
    response = client.post(
        reverse(LOGIN),
        {"username": "zhangsan", "password": "pass12345"},
        HTTP_X_FORWARDED_FOR="10.20.30.40",
        **behind_proxy,
    )
    assert response.status_code == 302
