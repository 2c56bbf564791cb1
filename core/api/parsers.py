"""The API's JSON parser: bounded nesting and text that can be stored and answered.

Python's json module recurses once per level, so `[` nested 100,000 deep
ends in a RecursionError (a 500); no write of this API nests more than a few
levels. A `\\ud800` escape decodes to a lone surrogate that no database and
no UTF-8 response can carry. Both are 400s with a stable `code`.
"""

import re

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers

# Deep enough for every write (a customer with contacts is 3 levels), far from the recursion limit.
MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(exceptions.ParseError):
    """A 400 `{"detail": message, "code": code}`."""

    def __init__(self, message, code: str):
        super().__init__({"detail": message, "code": code})


def _too_deep() -> BadJson:
    return BadJson(_("JSON 嵌套层数超过 %(max)d 层。") % {"max": MAX_JSON_DEPTH}, "json_too_deep")


def _not_text() -> BadJson:
    return BadJson(_("JSON 中有无效字符（不成对的代理字符）。"), "invalid_text")


def _check(document) -> None:
    """Walk the document without recursion: refuse depth beyond the limit and lone surrogates.

    NUL and control characters are judged by each field, with a message on that field.
    """
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            items = value.values() if isinstance(value, dict) else value
            if isinstance(value, dict) and any(_SURROGATE.search(key) for key in value):
                raise _not_text()
            pending.extend((item, depth + 1) for item in items)
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise _not_text()


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        _check(document)
        return document
