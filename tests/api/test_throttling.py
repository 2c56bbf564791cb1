"""Rate limits per user and per anonymous client; a broken throttle cache never fails a request."""

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings

from core.api import throttling
from tests.api.conftest import CUSTOMERS


@pytest.fixture
def low_rates(monkeypatch):
    rates = {"anon": "2/min", "user": "3/min"}
    for throttle in (throttling.AnonRateThrottle, throttling.UserRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", rates)
    # Counters are per fixed window: keep the clock inside one, however slow the requests.
    monkeypatch.setattr(throttling.AtomicRateThrottle, "timer", lambda self: 1_800_000_010.0)
    assert set(api_settings.DEFAULT_THROTTLE_CLASSES) == {
        throttling.AnonRateThrottle,
        throttling.UserRateThrottle,
    }


def test_a_user_over_the_rate_gets_429(api, manager, colleague, low_rates):
    client = api(manager)

    statuses = [client.get(CUSTOMERS).status_code for _n in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = client.get(CUSTOMERS)
    assert "detail" in response.json()
    assert int(response["Retry-After"]) > 0
    assert api(colleague).get(CUSTOMERS).status_code == 200, "the rate is per user"


def test_anonymous_clients_are_throttled_where_they_are_let_in(api, low_rates, settings):
    settings.API_DOCS_PUBLIC = True
    # Elsewhere a request without credentials stops at 401 before any throttle.
    client = api()

    statuses = [client.get("/api/schema/").status_code for _n in range(3)]

    assert statuses == [200, 200, 429]


def test_a_throttle_cache_that_is_down_lets_requests_through(api, manager, low_rates, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache server unreachable")

    for method in ("get", "set", "add", "incr"):
        monkeypatch.setattr(cache, method, down)
    client = api(manager)

    assert [client.get(CUSTOMERS).status_code for _n in range(5)] == [200] * 5


def test_rotating_x_forwarded_for_does_not_escape_the_anonymous_limit(api, low_rates, settings):
    settings.API_DOCS_PUBLIC = True
    client = api()

    statuses = [
        client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(api, low_rates, settings):
    settings.API_DOCS_PUBLIC = True
    settings.TRUSTED_PROXIES = 1
    client = api()

    first = [client.get("/api/schema/", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code for _n in range(3)]
    other = client.get("/api/schema/", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code

    assert first == [200, 200, 429]
    assert other == 200
