"""Serializer pieces every app's API uses: nested objects and strict writes."""

from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from core.text import text_error
from core.validation import FIRST_YEAR, LAST_YEAR, moment_refusal, validate_moment


class NestedUnitSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class NestedUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(
        source="__str__", read_only=True, help_text="Real name, or the username when none is recorded"
    )


class BoundedDateTimeField(serializers.DateTimeField):
    """A time out of this century is refused before DRF moves it between time zones:
    at the calendar's edge its own check overflows (rest_framework.utils.timezone)."""

    def enforce_timezone(self, value):
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise serializers.ValidationError(moment_refusal().messages, code="out_of_range")
        return super().enforce_timezone(value)


class StrictFieldsMixin:
    """Names the API does not take are errors, not silently dropped; text fields take text only.

    Text is refused when it holds control characters, NUL or lone surrogates
    (core.text); tab and line breaks are text in a model's TextField and in
    the fields named in `multiline_names`. A key given as text (a slug-related
    field: customer number, username, unit code) takes single-line text only.
    Dates and times lie in this century (core.validation.validate_moment).
    """

    read_only_names: frozenset[str] = frozenset()
    multiline_names: frozenset[str] = frozenset()

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.DateField | serializers.DateTimeField) and not field.read_only:
                if type(field) is serializers.DateTimeField:
                    # The same field with the overflow answered (declared or mapped from a model field).
                    field.__class__ = BoundedDateTimeField
                field.validators.append(validate_moment)
        return fields

    def _text_error(self, name: str, field: serializers.CharField, value: str):
        multiline = name in self.multiline_names or field.style.get("base_template") == "textarea.html"
        return text_error(value, multiline=multiline)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name, value in data.items():
                if name not in self.fields or self.fields[name].read_only:
                    errors[name] = [
                        ErrorDetail(_("该字段只读。"), code="read_only")
                        if name in self.read_only_names
                        else ErrorDetail(_("未知字段。"), code="unknown_field")
                    ]
                elif isinstance(self.fields[name], serializers.CharField) and not isinstance(
                    value, str | None
                ):
                    # DRF would take 33 as "33"; the schema says text, so a number is a mistake.
                    errors[name] = [ErrorDetail(_("请填写文本。"), code="not_text")]
                elif isinstance(self.fields[name], serializers.CharField) and isinstance(value, str):
                    message = self._text_error(name, self.fields[name], value)
                    if message is not None:
                        errors[name] = [ErrorDetail(message, code="invalid_text")]
                elif isinstance(self.fields[name], serializers.SlugRelatedField) and isinstance(value, str):
                    # A key (customer number, username, unit code) is looked up in the database:
                    # PostgreSQL refuses a NUL in the query itself, so it is refused before.
                    message = text_error(value)
                    if message is not None:
                        errors[name] = [ErrorDetail(message, code="invalid_text")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
