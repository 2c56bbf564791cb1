"""Readers of the API's 400 bodies for tests (core.api.exceptions):

`{"code": ..., "detail": ..., "errors": {field: [{"message", "code"}], nested: {...}}}`.
"""

from typing import Any


def _body(response_or_body: Any) -> dict:
    body = response_or_body if isinstance(response_or_body, dict) else response_or_body.json()
    assert set(body) == {"code", "detail", "errors"}, body
    assert isinstance(body["code"], str) and isinstance(body["detail"], str), body
    return body


def _map(errors: Any, leaf: str) -> Any:
    if isinstance(errors, dict) and set(errors) == {"message", "code"}:
        return errors[leaf]
    if isinstance(errors, dict):
        return {key: _map(value, leaf) for key, value in errors.items()}
    return [_map(value, leaf) for value in errors]


def field_messages(response_or_body: Any) -> dict:
    """The field errors as `{field: [messages]}` (nesting kept), after checking the body's shape."""
    return _map(_body(response_or_body)["errors"], "message")


def field_codes(response_or_body: Any) -> dict:
    """The field errors as `{field: [codes]}`."""
    return _map(_body(response_or_body)["errors"], "code")
