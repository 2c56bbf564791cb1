"""Choice labels read from a table per model field and language.

Django's get_FOO_display() builds the field's choice dict at each call, and
hashing each lazy label translates it: a list of 50 rows showing two labels a
row translated every label of both fields a hundred times. Lists read their
labels here instead; they are the same (tests/core/test_choice_labels.py).
"""

from django.utils.translation import get_language

_LABELS: dict[tuple[type, str, str | None], dict] = {}


def choice_label(obj, field: str) -> str:
    """What obj.get_<field>_display() shows, in the active language."""
    model = type(obj)
    key = (model, field, get_language())
    labels = _LABELS.get(key)
    if labels is None:
        labels = _LABELS[key] = {
            value: str(label) for value, label in model._meta.get_field(field).flatchoices
        }
    try:
        label = labels.get(getattr(obj, field))
    except TypeError:  # an unhashable value: Django's own method knows what to show
        label = None
    return label if label is not None else getattr(obj, f"get_{field}_display")()
