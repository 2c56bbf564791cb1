"""JSON errors, one shape for the whole API.

- 400: field-level messages, `{"field": ["message", ...]}`; errors that belong
  to no single field are under `non_field_errors`; nested objects mirror the
  request, and a list's errors are keyed by the position of the bad items
  (`{"contacts": {"1": {"mobile": ["..."]}}}`, as DRF's list serializers do).
- every other error: `{"detail": "message"}` (401, 403, 404, 409, 412, 422, 429); a body the
  server will not read (413) or cannot parse (400) adds a stable `code`
  (`request_too_large`, `json_too_deep`, `invalid_text`, core/api/parsers.py).

A Django `ValidationError` raised by a service becomes a 400 of that shape, a
Django `PermissionDenied` a 403, a row that vanished under a write lock a 404
and an archive version conflict a 412 carrying the current `ETag`.
"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
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


def as_api_exception(exc: Exception) -> Exception:
    """The DRF exception that answers a domain exception (others pass through unchanged)."""
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


def api_exception_handler(exc: Exception, context: dict) -> Any:
    response = exception_handler(as_api_exception(exc), context)
    if response is not None and isinstance(exc, VersionConflict):
        response["ETag"] = versioned_etag(exc.object_id, exc.current_version)
    return response
