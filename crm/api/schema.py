"""OpenAPI pieces shared by the API's views: error responses and the conditional-request headers."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="错误说明")


_FIELD_ERRORS = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=(
        "Invalid input: an object mapping each field to its messages; errors of no single field are "
        "under `non_field_errors`; nested objects mirror the request, and a list's errors are keyed by "
        "the position (from 0) of each bad item. Unknown and read-only fields are errors."
    ),
    examples=[
        OpenApiExample(
            "field errors",
            value={
                "number": ["户号必须是10到13位数字。"],
                "contacts": {"1": {"mobile": ["请输入11位手机号码，例如 13595561234。"]}},
                "colour": ["未知字段。"],
            },
            response_only=True,
            status_codes=["400"],
        )
    ],
)
_DESCRIPTIONS = {
    401: "Not authenticated: send `Authorization: Token <key>` (or use a session).",
    403: "Not allowed to this user (or, with session authentication, the CSRF token is missing).",
    404: "No such object among those the user may see (objects out of the user's scope answer 404 too).",
    409: "Conflict with the stored state.",
    412: "If-Match names a version that is no longer the stored one; nothing was changed. "
    "The response's ETag header is the current one.",
    422: "The Idempotency-Key was already used for a different request.",
    429: "Too many requests; retry after the number of seconds in the Retry-After header.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for `codes` (400 is field errors; the rest are {"detail": ...})."""
    responses: dict[int, OpenApiResponse] = {}
    for code in codes:
        if code == 400:
            responses[code] = _FIELD_ERRORS
        else:
            responses[code] = OpenApiResponse(response=ErrorSerializer, description=_DESCRIPTIONS[code])
    return responses


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'Optional. The ETag read earlier (e.g. `"42-7"`), or several separated by commas, or `*`. '
        "When given, the write applies only if the stored version still matches, checked under a row "
        "lock in the write's transaction; otherwise 412 and nothing changes. Without it the write "
        "applies to whatever is stored (last writer wins)."
    ),
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional. An ETag read earlier: 304 Not Modified (no body) while it is still current.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, 1–255 printable ASCII characters chosen by the client, one per intended request. "
        "A retry with the same key (per user) returns the first response (header "
        "`Idempotent-Replayed: true`) without applying the request again. A request racing one with the "
        "same key waits for it to finish and then returns its response. The same key with a different "
        "request answers 422. Only successful responses are kept; after an error a retry runs again."
    ),
)


def etag_header(*codes: int) -> OpenApiParameter:
    """The ETag response header, on the responses with status `codes`."""
    return OpenApiParameter(
        "ETag",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=list(codes),
        description='The version of the object, e.g. `"42-7"`; send it back in If-Match to write safely.',
    )
