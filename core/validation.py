"""What every app's services check before they save.

Writes take keyword-only arguments, run in one transaction and validate
before saving: a ValidationError with messages by field and nothing saved on
bad input; a field name the service does not know is a programming error
(TypeError), not bad input.
"""

from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.text import text_error

# A clock a little ahead of or behind the server's (a phone, a synced system)
# is not "the future" or "the past".
CLOCK_TOLERANCE = timedelta(minutes=5)

# The dates and times people enter (contacts, visits, outages, follow-ups) lie in
# this century: year 1 or 9999 is a slip of the keyboard, and at the calendar's
# edge the conversion to UTC that saving needs overflows (a 500, not an answer).
FIRST_YEAR, LAST_YEAR = 2000, 2099


def moment_refusal() -> ValidationError:
    return ValidationError(
        gettext_lazy("请填写%(first)d年至%(last)d年之间的日期。"),
        code="out_of_range",
        params={"first": FIRST_YEAR, "last": LAST_YEAR},
    )


def validate_moment(value) -> None:
    """A field validator (forms and API): a date or a time between FIRST_YEAR and LAST_YEAR."""
    if isinstance(value, date) and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise moment_refusal()


def check_field_names(fields: Iterable[str], allowed: Collection[str]) -> None:
    """Refuse keyword arguments a service does not write."""
    unknown = set(fields).difference(allowed)
    if unknown:
        raise TypeError(f"unexpected fields: {', '.join(sorted(unknown))}")


def is_future(moment: datetime, *, now: datetime | None = None) -> bool:
    """Later than now by more than the clock tolerance."""
    return moment > (now or timezone.now()) + CLOCK_TOLERANCE


def is_past(moment: datetime, *, now: datetime | None = None) -> bool:
    """Earlier than now by more than the clock tolerance."""
    return moment < (now or timezone.now()) - CLOCK_TOLERANCE


def text_errors(obj: models.Model) -> dict[str, list[str]]:
    """Text fields holding what is not text (core.text): line breaks only in a TextField."""
    errors = {}
    for field in obj._meta.concrete_fields:
        if isinstance(field, models.CharField | models.TextField):
            value = getattr(obj, field.attname)
            if isinstance(value, str):
                message = text_error(value, multiline=isinstance(field, models.TextField))
                if message is not None:
                    errors[field.name] = [str(message)]
    return errors


def refuse_non_text(obj: models.Model) -> None:
    """Raise a ValidationError by field when a text field holds what is not text."""
    errors = text_errors(obj)
    if errors:
        raise ValidationError(errors)


def full_clean_or_raise(obj: models.Model, errors: dict[str, list[str]]) -> None:
    """The model's own validation joined to the errors the service found; raise if there are any.

    Text fields must hold text (no control characters, NUL or lone surrogates).
    """
    errors = {**text_errors(obj), **errors}
    try:
        # Fields already judged by the service's own rules are not reported twice.
        obj.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
