"""Serializer pieces shared by the API's views."""

import re

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


class StoredChoicesMixin:
    # Read-only choice fields of a ModelSerializer show what the column may hold:
    # DRF drops `allow_blank`/`allow_null` from read-only fields, so a choice column
    # that may be blank (a step with no previous status) or null would be documented
    # as one of its choices only. (A comment, not a docstring: the schema would show it.)

    def get_fields(self):
        fields = super().get_fields()
        model = self.Meta.model
        for name, field in fields.items():
            if not (field.read_only and isinstance(field, serializers.ChoiceField)):
                continue
            try:
                column = model._meta.get_field(field.source or name)
            except FieldDoesNotExist:
                continue
            field.allow_blank = field.allow_blank or column.blank
            field.allow_null = field.allow_null or column.null
        return fields


class QueryIntegerField(serializers.IntegerField):
    """A whole number in a query string, read strictly.

    DRF reads an empty form value (`?limit=`) as "left out" and takes "2.0"
    for 2; a query parameter documented as an integer refuses both.
    """

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data):
        if not (isinstance(data, str) and _WHOLE_NUMBER.fullmatch(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


# The most rows a page of any list or of the sync feed holds.
MAX_PAGE_LIMIT = 1000


class PageLimitField(QueryIntegerField):
    """`?limit=`, rows per page, the same rule for every list and the sync feed: a whole number
    from 1 to MAX_PAGE_LIMIT; above it a 400 with the code `limit_too_large` (never clamped,
    so a client never takes a short page for the end of the data)."""

    default_error_messages = {
        "limit_too_large": _("每页最多 %(max)d 条。"),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value > MAX_PAGE_LIMIT:
            self.fail("limit_too_large", max=MAX_PAGE_LIMIT)
        return value
