"""Lifecycle steps taken over the API (POST /<resource>/{key}/<step>/): the answers they share.

- 409 Conflict: the object's status does not allow the step. Not bad input:
  the same request may succeed once the object moves on.
- 412 Precondition Failed: the `If-Match` names a version that is no longer
  the stored one; the response carries the current ETag.

A view that takes steps lists the domain exceptions that mean "not in this
status" in `conflict_errors`; they answer 409 with their messages.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.api.etag import if_match_versions, versioned_etag
from core.api.exceptions import PreconditionFailed


class StepConflict(exceptions.APIException):
    """The object's status does not allow the step."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("当前状态不允许该操作。")
    default_code = "transition_not_allowed"

    @classmethod
    def from_error(cls, exc: ValidationError) -> "StepConflict":
        return cls("；".join(exc.messages))


class StalePrecondition(PreconditionFailed):
    """A 412 that knows the current ETag, for the response's header."""

    def __init__(self, *, etag: str):
        super().__init__()
        self.etag = etag


def require_current(if_match: str | None, *, pk: int, version: int) -> None:
    """Raise StalePrecondition unless `If-Match` is absent or names the stored `version`.

    Call it with the row locked in the write's transaction.
    """
    expected = if_match_versions(if_match, pk=pk)
    if expected is not None and version not in expected:
        raise StalePrecondition(etag=versioned_etag(pk, version))


class StepResponsesMixin:
    """A viewset's 409 for `conflict_errors` and the ETag header of a 412."""

    conflict_errors: tuple[type[Exception], ...] = ()

    def handle_exception(self, exc):
        if self.conflict_errors and isinstance(exc, self.conflict_errors):
            exc = StepConflict.from_error(exc)
        response = super().handle_exception(exc)
        if isinstance(exc, StalePrecondition):
            response["ETag"] = exc.etag
        return response


class FreshDetailMixin:
    """Answer a write or a step with the object as it stands now, read again
    with everything its detail shows, even if the step just moved it out of
    the user's scope (a transfer to another unit)."""

    detail_serializer_class: type | None = None

    def detail_queryset(self):
        raise NotImplementedError

    def detail_response(self, obj, code: int = status.HTTP_200_OK):

        fresh = self.detail_queryset().get(pk=obj.pk)
        return Response(
            self.detail_serializer_class(fresh, context=self.get_serializer_context()).data, status=code
        )
