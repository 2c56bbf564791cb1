"""Per-row shortcuts of the group pages give what the slower general tools give."""

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.urls import reverse

from core.templatetags.rows import row_url, with_key


@pytest.mark.parametrize("number", ["GD2026-0007", "工单 7", "918273645"])
def test_a_ticket_address_matches_reverse(number):
    assert with_key(row_url("tickets:detail"), number) == reverse("tickets:detail", args=[number])


@pytest.mark.parametrize(("group", "member"), [(1, 7), (918273645, 918273645), (91827364, 5)])
def test_a_member_address_keeps_the_group_and_puts_the_member_last(group, member):
    expected = reverse("groups:member_leave", args=[group, member])
    assert with_key(row_url("groups:member_leave", group), member) == expected


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 2, 21, 5, 7, 938769, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
        datetime(999, 3, 4, 5, 6, tzinfo=UTC),
        None,
    ],
)
def test_the_message_stamps_read_as_the_date_filter_gives_them(moment):
    context = Context({"t": moment})
    expected = Template("""{{ t|date:'c' }}|{{ t|date:"Y-m-d H:i" }}""").render(context)
    assert Template("{% load group_tags %}{{ t|iso_time }}|{{ t|minute_time }}").render(context) == expected
