"""{{ number|tel }}: a number shown in full is a tap-to-call link; a masked one stays text."""

import pytest
from django.template import Context, Template


def render(value) -> str:
    return Template("{% load phones %}{{ value|tel }}").render(Context({"value": value}))


@pytest.mark.parametrize(
    ("value", "href"),
    [
        ("13985551234", "tel:13985551234"),
        ("0855-3332468", "tel:08553332468"),
        ("+86 139 8555 1234", "tel:+8613985551234"),
    ],
)
def test_a_full_number_is_a_link(value, href):
    assert render(value) == f'<a class="tel-link text-nowrap" href="{href}">{value}</a>'


@pytest.mark.parametrize("value", ["139****1234", "0855-***2468", "*******"])
def test_a_masked_number_is_not_linked(value):
    assert render(value) == value


def test_nothing_renders_nothing_and_markup_is_escaped():
    assert render("") == ""
    assert render(None) == ""
    assert render("<b>1</b>") == "&lt;b&gt;1&lt;/b&gt;"
