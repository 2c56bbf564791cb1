"""Row addresses reversed once per page give what reverse() gives for each row."""

import pytest
from django.urls import reverse

from groups.templatetags.group_tags import row_url, with_key


@pytest.mark.parametrize("number", ["GD2026-0007", "工单 7", "918273645"])
def test_a_ticket_address_matches_reverse(number):
    assert with_key(row_url("tickets:detail"), number) == reverse("tickets:detail", args=[number])


@pytest.mark.parametrize(("group", "member"), [(1, 7), (918273645, 918273645), (91827364, 5)])
def test_a_member_address_keeps_the_group_and_puts_the_member_last(group, member):
    expected = reverse("groups:member_leave", args=[group, member])
    assert with_key(row_url("groups:member_leave", group), member) == expected
