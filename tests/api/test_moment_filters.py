"""Date-time filters refuse impossible time-zone offsets with a 400 instead of reaching the database."""

import pytest
from rest_framework.authtoken.models import Token

from tests.api_errors import field_messages


@pytest.fixture
def api(client, supervisor):
    token = Token.objects.create(user=supervisor).key

    def get(url: str):
        return client.get(url, HTTP_AUTHORIZATION=f"Token {token}")

    return get


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/customers/?updated_after=2026-01-01T00:00:00%2B16:33", "updated_after"),
        ("/api/v1/tickets/?created_before=2026-01-01T00:00:00-15:00", "created_before"),
        ("/api/v1/visits/?scheduled_after=2026-01-01T00:00:00%2B15:30", "scheduled_after"),
    ],
)
def test_an_offset_no_time_zone_has_is_a_field_error(api, url, field):
    response = api(url)
    assert response.status_code == 400
    assert field in field_messages(response)


def test_a_real_offset_is_accepted(api):
    assert api("/api/v1/customers/?updated_after=2026-01-01T00:00:00%2B14:00").status_code == 200
    assert api("/api/v1/tickets/?created_before=2026-01-01T00:00:00-12:00").status_code == 200
