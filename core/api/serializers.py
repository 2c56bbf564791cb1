"""Serializer pieces every app's API uses: nested objects and strict writes."""

from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


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
    """Names the API does not take are errors, not silently dropped; text fields take text only."""

    read_only_names: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name, value in data.items():
                if name not in self.fields or self.fields[name].read_only:
                    errors[name] = [_("该字段只读。") if name in self.read_only_names else _("未知字段。")]
                elif isinstance(self.fields[name], serializers.CharField) and not isinstance(
                    value, str | None
                ):
                    # DRF would take 33 as "33"; the schema says text, so a number is a mistake.
                    errors[name] = [_("请填写文本。")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
