"""Text that is text: the one rule for every text a user or a client sends.

Control characters (C0 and DEL) break exports, terminals and logs, NUL cannot
be stored in PostgreSQL, and a lone surrogate cannot be encoded as UTF-8 at
all. Forms, API serializers, query parameters and services refuse them with
a field error; tab, line feed and carriage return are text in fields that
hold several lines (notes, descriptions), and nowhere else.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

_LINE_BREAKS = "\t\n\r"
_SURROGATES = "\ud800-\udfff"
_SINGLE_LINE_BAD = re.compile(f"[\x00-\x1f\x7f{_SURROGATES}]")
_MULTI_LINE_BAD = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f{_SURROGATES}]")

MESSAGE = _("不能包含控制字符或无效字符（如 NUL、转义符或不成对的代理字符）。")
MESSAGE_LINE = _("不能包含换行、制表符或其他控制字符。")


def text_error(value: str, *, multiline: bool = False):
    """The message refusing `value`, or None when it is text."""
    bad = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is None:
        return None
    return MESSAGE_LINE if bad.group() in _LINE_BREAKS else MESSAGE


def is_text(value: str, *, multiline: bool = False) -> bool:
    return text_error(value, multiline=multiline) is None


@deconstructible
class TextValidator:
    """A field validator (forms, models, serializers): refuses what is not text, code `invalid_text`."""

    code = "invalid_text"

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value) -> None:
        if isinstance(value, str):
            message = text_error(value, multiline=self.multiline)
            if message is not None:
                raise ValidationError(message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, TextValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash((TextValidator, self.multiline))


validate_text = TextValidator()
validate_multiline_text = TextValidator(multiline=True)


# --- How long a text a person writes may be ---------------------------------------
# A TextField has no length of its own: a 1 MB note made a 2.2 MB page. Every text
# field people write gets one of these, in characters, checked by the model
# (a validator, for services that call full_clean) and by the form and serializer
# fields made from it (max_length). Texts the system writes itself (sync rows,
# error logs) are not limited here.
NOTE_LENGTH = 1000  # a remark on one step: an urge note, a reason, a return-visit record
TEXT_LENGTH = 2000  # a description, a resolution, group rules, a broadcast, a contact summary
MESSAGE_LENGTH = 4000  # a chat message as sent in a WeCom group


def limited(length: int) -> dict:
    """The field options of a text of at most `length` characters."""
    from django.core.validators import MaxLengthValidator

    return {"max_length": length, "validators": [MaxLengthValidator(length)]}
