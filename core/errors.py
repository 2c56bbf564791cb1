"""Errors that services raise and the API turns into responses (core.api.exceptions)."""

from django.core.exceptions import ValidationError


class VersionConflict(Exception):
    """The row changed since the caller read it: its stored version is not one the caller expected.

    The API answers 412 with the row's current ETag.
    """

    def __init__(self, *, object_id: int, current_version: int):
        self.object_id = object_id
        self.current_version = current_version
        super().__init__(f"object {object_id} is at version {current_version}")


class ItemsError(ValidationError):
    """A list field with bad items: `items[i]` maps field names to messages (empty when item i is fine).

    The API answers `{field: {"<i>": {name: [messages]}}}` for the items that are wrong.
    """

    def __init__(self, *, field: str, items: list[dict[str, list[str]]], messages: list[str]):
        self.field = field
        self.items = items
        super().__init__({field: messages})
