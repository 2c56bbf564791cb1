"""The response deadline of an inquiry, across the edges of business hours (08:00–20:00)."""

from datetime import UTC

import pytest
import time_machine

from groups.health import response_due_at
from tests.groups.conftest import local


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        (local(2026, 11, 20, 19, 50), local(2026, 11, 20, 20, 20)),  # inside: 30 min, past closing
        (
            local(2026, 11, 20, 20, 10),
            local(2026, 11, 21, 8, 30),
        ),  # evening: the next morning's first half hour
        (local(2026, 11, 20, 7, 0), local(2026, 11, 20, 8, 30)),  # before opening: same morning
        (local(2026, 11, 20, 8, 0), local(2026, 11, 20, 8, 30)),  # opening minute counts as inside
        (local(2026, 11, 20, 20, 0), local(2026, 11, 21, 8, 30)),  # closing minute counts as outside
        (local(2026, 11, 20, 23, 59), local(2026, 11, 21, 8, 30)),
        (local(2026, 11, 21, 0, 1), local(2026, 11, 21, 8, 30)),
        (local(2026, 12, 31, 21, 0), local(2027, 1, 1, 8, 30)),  # over the year's end
    ],
)
def test_the_deadline_follows_business_hours(asked, due):
    assert response_due_at(asked) == due


def test_an_evening_deadline_can_be_set_to_nine_oclock(settings):
    settings.GROUPS_OFF_HOURS_RESPONSE_MINUTES = 60
    assert response_due_at(local(2026, 11, 20, 20, 10)) == local(2026, 11, 21, 9, 0)
    assert response_due_at(local(2026, 11, 20, 7, 0)) == local(2026, 11, 20, 9, 0)
    assert response_due_at(local(2026, 11, 20, 19, 50)) == local(2026, 11, 20, 20, 20)


def test_an_instant_given_in_utc_is_read_in_local_time():
    asked = local(2026, 11, 20, 20, 10).astimezone(UTC)
    assert response_due_at(asked) == local(2026, 11, 21, 8, 30)


@pytest.mark.parametrize(
    ("asked", "due"),
    [
        (local(2026, 11, 20, 19, 50), local(2026, 11, 20, 20, 20)),
        (local(2026, 11, 20, 20, 10), local(2026, 11, 21, 8, 30)),
        (local(2026, 11, 20, 7, 0), local(2026, 11, 20, 8, 30)),
    ],
)
def test_a_recorded_inquiry_stores_its_deadline(ask, asked, due):
    with time_machine.travel(asked, tick=False):
        message = ask()
    message.refresh_from_db()
    assert message.sent_at == asked
    assert message.response_due_at == due


def test_a_message_that_is_not_an_inquiry_has_no_deadline(group, contact, member):
    from groups.services.messages import message_post

    message, _created = message_post(group=group, contact=contact, text="好的，谢谢！")
    assert message.is_inquiry is False
    assert message.response_due_at is None
