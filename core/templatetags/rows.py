"""What the rows of a list show: addresses reversed once per page, choice labels from a table."""

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from core.choices import choice_label

register = template.Library()


# Row addresses are reversed once per page with this key in the last place, then each
# row's own key is put in its place: a reverse per row costs more than the row's HTML.
_ROW_KEY = 918273645


@register.simple_tag
def row_url(name: str, *args) -> str:
    """The address of `name` with `args` first and a placeholder for each row's key last."""
    return reverse(name, args=[*args, _ROW_KEY])


@register.filter
def with_key(url: str, key) -> str:
    """`url` from row_url with the row's key; quoted as reverse() quotes it."""
    head, _marker, tail = url.rpartition(str(_ROW_KEY))
    return head + quote(str(key), safe=RFC3986_SUBDELIMS + "/~:@") + tail


@register.filter
def label(obj, field: str) -> str:
    """obj.get_<field>_display(), read from core.choices' table (nothing for no object)."""
    return "" if obj is None or obj == "" else choice_label(obj, field)
