"""JSON errors, one shape for the whole API.

- 400: field-level messages, `{"field": ["message", ...]}`; errors that belong
  to no single field are under `non_field_errors`; nested objects mirror the
  request, and a list's errors are keyed by the position of the bad items
  (`{"contacts": {"1": {"mobile": ["..."]}}}`, as DRF's list serializers do).
- every other error: `{"detail": "message"}` (401, 403, 404, 409, 412, 415, 422, 429); a body the
  server will not read (413) or cannot parse (400) adds a stable `code`
  (`request_too_large`, `json_too_deep`, `invalid_text`, core/api/parsers.py).
- every `{"detail": ...}` body has a stable, machine-readable `code` beside the
  localized message (`ERROR_CODES`: `not_found`, `throttled`, ...). A 400 of
  field errors keeps its shape (its code is `validation_error`), except the
  kinds of their own, `unknown_parameter`, `repeated_parameter` and
  `limit_too_large`, which add `code` and `codes` (the field errors' structure
  with each message's code).

A Django `ValidationError` raised by a service becomes a 400 of that shape, a
Django `PermissionDenied` a 403, a row that vanished under a write lock a 404
and an archive version conflict a 412 carrying the current `ETag`.
"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from core.api.etag import versioned_etag
from core.errors import ItemsError, VersionConflict


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = _("资源已被他人修改，请重新获取后再提交。")
    default_code = "precondition_failed"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("该幂等键已用于另一个请求，请为新的请求使用新的幂等键。")
    default_code = "idempotency_key_reused"


class RequestTooLarge(exceptions.APIException):
    """A body beyond DATA_UPLOAD_MAX_MEMORY_SIZE: `{"detail": message, "code": "request_too_large"}`."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        super().__init__({"detail": _("请求内容过大。"), "code": self.default_code})


def _field_name(name: str) -> str:
    return api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name


def validation_detail(exc: DjangoValidationError) -> dict[str, Any]:
    """A service's ValidationError as the API's 400 body."""
    if isinstance(exc, ItemsError):
        return {
            exc.field: {
                str(index): {_field_name(field): messages for field, messages in item.items()}
                for index, item in enumerate(exc.items)
                if item
            }
        }
    if hasattr(exc, "error_dict"):
        return {_field_name(field): messages for field, messages in exc.message_dict.items()}
    return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


# The `code` of an error body, by the exception that answered: stable, for clients to branch
# on; the message beside it is translated. (DRF's own default codes, renamed where they say less.)
ERROR_CODES = {
    "invalid": "validation_error",
    "parse_error": "parse_error",
    "authentication_failed": "authentication_failed",
    "not_authenticated": "not_authenticated",
    "permission_denied": "permission_denied",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "throttled",
}


# Field codes that name a kind of 400 of their own, given as the body's `code` too.
KINDS_OF_400 = frozenset({"limit_too_large"})


def _leaves(codes: Any):
    if isinstance(codes, dict):
        for value in codes.values():
            yield from _leaves(value)
    elif isinstance(codes, list):
        for value in codes:
            yield from _leaves(value)
    else:
        yield codes


def error_code(exc: exceptions.APIException) -> str:
    code = getattr(exc, "default_code", None) or "error"
    return ERROR_CODES.get(code, code)


def as_api_exception(exc: Exception) -> Exception:
    """The DRF exception that answers a domain exception (others pass through unchanged)."""
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(validation_detail(exc))
    if isinstance(exc, VersionConflict):
        return PreconditionFailed()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    return exc


def error_detail(exc: Exception) -> Any:
    """The body an error would have as a response of its own (used for the items of a bulk request)."""
    translated = as_api_exception(exc)
    if isinstance(translated, exceptions.ValidationError):
        return translated.detail
    if isinstance(translated, exceptions.APIException):
        return {"detail": translated.detail}
    raise exc


def _with_code(data: Any, exc: exceptions.APIException) -> Any:
    """The body with its `code`; a `code` already there stays.

    Plain field errors keep the body clients have always read, `{field: [messages]}`
    (no key of its own, so no field name can collide with it): a 400 without
    `detail` is `validation_error`. A 400 of a kind of its own (an unknown or
    repeated query parameter) adds `code` and `codes` (the per-field codes).
    """
    if not isinstance(data, dict) or "code" in data:
        return data
    if isinstance(exc, exceptions.ValidationError):
        codes = exc.get_codes()
        if type(exc) is not exceptions.ValidationError:
            return {**data, "code": error_code(exc), "codes": codes}
        kinds = set(_leaves(codes))
        if len(kinds) == 1 and kinds <= KINDS_OF_400:
            return {**data, "code": kinds.pop(), "codes": codes}
        return data
    return {**data, "code": error_code(exc)}


def api_exception_handler(exc: Exception, context: dict) -> Any:
    translated = as_api_exception(exc)
    response = exception_handler(translated, context)
    if response is None:
        return None
    if isinstance(translated, exceptions.APIException):
        response.data = _with_code(response.data, translated)
    if isinstance(exc, VersionConflict):
        response["ETag"] = versioned_etag(exc.object_id, exc.current_version)
    return response
