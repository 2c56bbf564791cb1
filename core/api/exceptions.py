"""JSON errors, one shape for the whole API: every error body is an object with a stable,
machine-readable `code` and a localized `detail`.

- 400 of invalid input: `{"code": "validation_error", "detail": "summary",
  "errors": {"field": [{"message": "...", "code": "required"}]}}`. `errors`
  mirrors the request: errors that belong to no single field are under
  `non_field_errors`, nested objects nest, and a list's errors are keyed by the
  position of the bad items (`{"contacts": {"1": {"mobile": [{...}]}}}`). The
  field errors live under a key of their own, so no field name (a model field
  named `code` or `detail`, say) can collide with the body's own keys. The
  kinds of 400 of their own keep this shape with their own `code`:
  `unknown_parameter`, `repeated_parameter`, `limit_too_large`.
  A body that cannot be read is a 400 of the same shape with empty `errors`
  and the code `parse_error`, `json_too_deep` or `invalid_text`
  (core/api/parsers.py).
- every other error: `{"code": "...", "detail": "message"}` (401, 403, 404, 409,
  410, 412, 413, 415, 422, 429); some add fields of their own (the sync feed's
  410 adds `reason`).

A Django `ValidationError` raised by a service becomes a 400 of that shape
(its codes kept), a Django `PermissionDenied` a 403, a row that vanished under
a write lock a 404 and an archive version conflict a 412 carrying the current
`ETag`.
"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
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


def _details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
    """Django's errors as DRF's, each message with its code (`invalid` when the service gave none)."""
    details = []
    for error in errors:
        for message in error:  # an error with params yields its formatted message
            details.append(ErrorDetail(str(message), code=error.code or "invalid"))
    return details


def validation_detail(exc: DjangoValidationError) -> dict[str, Any]:
    """A service's ValidationError as the field errors of a 400 (each message with its code)."""
    if isinstance(exc, ItemsError):
        return {
            exc.field: {
                str(index): {_field_name(field): messages for field, messages in item.items()}
                for index, item in enumerate(exc.items)
                if item
            }
        }
    if hasattr(exc, "error_dict"):
        return {_field_name(field): _details(errors) for field, errors in exc.error_dict.items()}
    return {api_settings.NON_FIELD_ERRORS_KEY: _details(exc.error_list)}


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


# The summary beside a 400's field errors, by its code.
SUMMARIES = {
    "validation_error": _("请求有误，请按 errors 中各字段的说明修改。"),
    "unknown_parameter": _("请求中有接口不接受的查询参数。"),
    "repeated_parameter": _("只取一个值的查询参数给出了多次。"),
    "limit_too_large": _("每页条数超出上限。"),
}


def field_errors(detail: Any) -> Any:
    """DRF's error detail as `errors`: every message `{"message", "code"}`, the nesting kept.

    A list of messages stays a list; a list of per-item errors (a nested
    serializer with many=True) becomes an object keyed by the bad items' positions.
    """
    if isinstance(detail, dict):
        return {str(key): field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if any(isinstance(item, dict | list) for item in detail):
            return {str(index): field_errors(item) for index, item in enumerate(detail) if item}
        return [field_errors(item) for item in detail]
    return {"message": str(detail), "code": getattr(detail, "code", None) or "invalid"}


def _validation_body(exc: exceptions.ValidationError) -> dict[str, Any]:
    detail = exc.detail
    if not isinstance(detail, dict):
        detail = {api_settings.NON_FIELD_ERRORS_KEY: detail if isinstance(detail, list) else [detail]}
    if type(exc) is not exceptions.ValidationError:
        code = error_code(exc)  # a kind of its own (UnknownParameter, RepeatedParameter)
    else:
        kinds = set(_leaves(exc.get_codes()))
        code = kinds.pop() if len(kinds) == 1 and kinds <= KINDS_OF_400 else ERROR_CODES["invalid"]
    summary = SUMMARIES.get(code, SUMMARIES["validation_error"])
    return {"code": code, "detail": str(summary), "errors": field_errors(detail)}


def _with_code(data: Any, exc: exceptions.APIException) -> Any:
    """The body with its `code`; a body that names its own `code` (a kind of error with more to
    say, e.g. the sync feed's 410) stays as it is."""
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(exc)
    if not isinstance(data, dict):
        data = {"detail": data}
    if "code" not in data:
        data = {"code": error_code(exc), **data}
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        # A body that could not be read: a 400 like any other, with no field to blame.
        data = {**data, "errors": {}}
    return data


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
