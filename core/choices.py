"""Choice labels looked up in a table made once per field and language.

Django's `get_FOO_display()` builds a dict of the field's choices on every call,
and hashing each lazy label translates it: an order list of 50 rows showing a
few labels a row translated about 1,800 labels. A model that lists
`ChoiceLabels` among its bases answers `get_FOO_display()` with the same label
from a table of the field's choices in the active language.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.utils.encoding import force_str
from django.utils.translation import get_language


@cache
def choice_labels(field, language: str | None) -> dict[Any, str]:
    """The field's choices as {value: label in `language`}, the language active when called."""
    return {value: str(label) for value, label in field.flatchoices}


class ChoiceLabels:
    """Put before `models.Model` in a model's bases: Django binds `get_FOO_display()`
    to the `_get_FIELD_display` the model class has when the field is added."""

    def _get_FIELD_display(self, field) -> str:
        value = getattr(self, field.attname)
        try:
            label = choice_labels(field, get_language()).get(value, value)
        except TypeError:  # an unhashable value (a list, a dict): Django's own way
            return super()._get_FIELD_display(field)
        return force_str(label, strings_only=True)
