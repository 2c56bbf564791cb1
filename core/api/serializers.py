"""Serializer pieces every app's API uses: nested objects and strict writes."""

from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from core.text import text_error


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


class StrictFieldsMixin:
    """Names the API does not take are errors, not silently dropped; text fields take text only.

    Text is refused when it holds control characters, NUL or lone surrogates
    (core.text); tab and line breaks are text in a model's TextField and in
    the fields named in `multiline_names`. A key given as text (a slug-related
    field: customer number, username, unit code) takes single-line text only.
    """

    read_only_names: frozenset[str] = frozenset()
    multiline_names: frozenset[str] = frozenset()

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
