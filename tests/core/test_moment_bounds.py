"""A date or time at the calendar's edge is refused with a message, never saved nor a 500.

Year 1 in Asia/Shanghai cannot be converted to UTC to be stored (OverflowError);
year 9999 would be stored and later overflow any deadline counted from it.
Forms (core.forms.StyledFormMixin) and the API (core.api.serializers.StrictFieldsMixin)
share core.validation.validate_moment.
"""

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from core.validation import validate_moment
from customers.models import Interaction, Visit
from outages.models import Outage
from tests.api_errors import field_messages
from tests.security import test_permission_matrix as matrix

# The matrix's objects of 雷山供电所 (a customer, a group, an outage...).
world = matrix.world

REFUSED = "请填写2000年至2099年之间的日期。"


@pytest.mark.parametrize("value", [date(2000, 1, 1), date(2099, 12, 31), datetime(2026, 12, 2, 9, 30)])
def test_this_century_is_taken(value):
    validate_moment(value)


@pytest.mark.parametrize(
    "value", [date(1, 1, 1), date(1999, 12, 31), date(2100, 1, 1), datetime(9999, 12, 31)]
)
def test_the_calendars_edges_are_refused(value):
    with pytest.raises(ValidationError) as caught:
        validate_moment(value)
    assert caught.value.messages == [REFUSED]


def _contact(**fields) -> dict:
    return {
        "channel": "phone",
        "direction": "outbound",
        "mood": "calm",
        "summary": "电话回访。",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"occurred_at": "0001-01-01T00:00"}, "occurred_at"),
        ({"next_follow_up": "9999-12-31"}, "next_follow_up"),
    ],
)
def test_a_contact_log_at_the_edge_is_refused(world, login, manager, fields, field):
    client = login(manager)
    url = reverse("customers:interaction_create", args=[world["customer"].number])

    response = client.post(url, _contact(**fields))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [REFUSED]
    assert not Interaction.objects.exists()
    assert client.post(url, _contact()).status_code == 302


@pytest.mark.parametrize("when", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_visit_at_the_edge_is_refused(world, login, manager, when):
    url = reverse("customers:visit_create", args=[world["customer"].number])
    before = Visit.objects.count()

    response = login(manager).post(url, {"purpose": "routine", "scheduled_at": when})

    assert response.status_code == 200
    assert response.context["form"].errors["scheduled_at"] == [REFUSED]
    assert Visit.objects.count() == before


def test_an_outage_and_its_estimate_at_the_edge_are_refused(world, login, manager):
    client = login(manager)
    before = Outage.objects.count()
    body = {
        "kind": "fault",
        "reason": "变压器故障",
        "estimated_restoration": "0001-01-01T00:00",
        "districts": [world["district"].pk],
    }

    response = client.post(reverse("outages:create"), body)

    assert response.status_code == 200
    assert response.context["form"].errors["estimated_restoration"] == [REFUSED]
    assert Outage.objects.count() == before
    outage = world["outage"]
    estimate = outage.estimated_restoration
    url = reverse("outages:action", args=[outage.pk, "estimate"])
    response = client.post(url, {"estimated_restoration": "0001-01-01T00:00"})
    assert response.status_code == 302
    outage.refresh_from_db()
    assert outage.estimated_restoration == estimate


def test_a_group_message_at_the_edge_is_refused(world, login, manager):
    group = world["group"]
    before = group.messages.count()
    body = {
        "contact": world["contact"].pk,
        "text": "请问",
        "sent_at": "0001-01-01T00:00",
        "is_inquiry": "auto",
    }

    response = login(manager).post(reverse("groups:messages", args=[group.pk]), body)

    assert response.status_code < 500
    assert REFUSED in response.content.decode()
    assert group.messages.count() == before


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/interactions/", {"occurred_at": "0001-01-01T00:00:00"}, "occurred_at"),
        ("/api/v1/interactions/", {"occurred_at": "0001-01-01T00:00:00+08:00"}, "occurred_at"),
        ("/api/v1/interactions/", {"next_follow_up": "9999-12-31"}, "next_follow_up"),
        ("/api/v1/visits/", {"scheduled_at": "9999-12-31T23:59:00+08:00"}, "scheduled_at"),
    ],
)
def test_the_api_refuses_the_edges_with_a_field_error(world, client, manager, url, body, field):
    client.force_login(manager)
    base = {
        "customer": world["customer"].number,
        "channel": "phone",
        "summary": "电话回访。",
        "occurred_at": timezone.now().isoformat(),
        "purpose": "routine",
        "scheduled_at": timezone.now().isoformat(),
    }
    names = {"/api/v1/interactions/": ("customer", "channel", "summary", "occurred_at")}
    base = {k: v for k, v in base.items() if k in names.get(url, ("customer", "purpose", "scheduled_at"))}

    response = client.post(url, {**base, **body}, content_type="application/json")

    assert response.status_code == 400, response.content
    assert field_messages(response)[field] == [REFUSED]


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/interactions/?occurred_after=0001-01-01T00:00:00",
        "/api/v1/interactions/?occurred_after=0001-01-01T00:00:00%2B08:00",
        "/api/v1/visits/?scheduled_after=0001-01-01T00:00:00",
        "/api/v1/tickets/?created_after=9999-12-31T23:59:59",
    ],
)
def test_a_list_filter_at_the_edge_is_a_400_not_a_500(world, client, manager, query):
    client.force_login(manager)

    response = client.get(query)

    assert response.status_code == 400, response.content
    assert REFUSED in str(field_messages(response))
