"""OpenAPI pieces shared by the API's views: error responses and the conditional-request headers."""

import re
from typing import Any

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication

from core.api.serializers import StrictFieldsMixin


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable, machine-readable: not_authenticated, authentication_failed, permission_denied, "
        "not_found, method_not_allowed, transition_not_allowed, precondition_failed, unsupported_media_type, "
        "idempotency_key_reused, idempotency_key_in_use, request_too_large, throttled, ..."
    )
    detail = serializers.CharField(help_text="错误说明 (localized)")


# One error of a field: a component of its own, added by `tighten_schema` (no serializer names it).
FIELD_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "错误说明 (localized)"},
        "code": {
            "type": "string",
            "description": "Stable, machine-readable: required, invalid, blank, null, max_length, "
            "unknown_field, read_only, does_not_exist, unknown_parameter, limit_too_large, ...",
        },
    },
    "required": ["message", "code"],
}


# Each field's messages; a nested object's (or a list's, keyed by item position) errors nest.
_FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            {"type": "object", "additionalProperties": {}},
        ]
    },
}


@extend_schema_field(_FIELD_ERRORS_SCHEMA)
class FieldErrorsField(serializers.DictField):
    pass


class ValidationErrorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "validation_error",
            "unknown_parameter",
            "repeated_parameter",
            "limit_too_large",
            "parse_error",
            "json_too_deep",
            "invalid_text",
        ],
        help_text="validation_error: invalid input; unknown_parameter: a query parameter the operation does "
        "not take; repeated_parameter: a single-valued parameter given twice; limit_too_large: `limit` above "
        "the cap; parse_error, json_too_deep, invalid_text: a body that cannot be read (`errors` is empty).",
    )
    detail = serializers.CharField(help_text="A summary (localized); the messages are in `errors`.")
    errors = FieldErrorsField(
        help_text="Each field (or query parameter) with its errors, `{message, code}` each; errors of no "
        "single field are under `non_field_errors`; nested objects nest, a list's errors are keyed by the "
        "position (from 0) of each bad item."
    )


_FIELD_ERRORS = OpenApiResponse(
    response=ValidationErrorSerializer,
    description=(
        "Invalid input: `errors` maps each field to its errors, each `{message, code}`; errors of no "
        "single field are under `non_field_errors`; nested objects mirror the request, and a list's errors "
        "are keyed by the position (from 0) of each bad item. Unknown and read-only fields are errors."
    ),
    examples=[
        OpenApiExample(
            "field errors",
            value={
                "code": "validation_error",
                "detail": "请求有误，请按 errors 中各字段的说明修改。",
                "errors": {
                    "number": [{"message": "户号必须是10到13位数字。", "code": "invalid"}],
                    "contacts": {
                        "1": {
                            "mobile": [
                                {"message": "请输入11位手机号码，例如 13595561234。", "code": "invalid"}
                            ]
                        }
                    },
                    "colour": [{"message": "未知字段。", "code": "unknown_field"}],
                },
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
    409: "Conflict with the stored state, or a request with the same Idempotency-Key is still running "
    "(`idempotency_in_progress`: retry after the seconds in Retry-After).",
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
    # Printable ASCII; no blank at either end, since HTTP strips those from header values.
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]([ -~]*[!-~])?$"},
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


NOT_MODIFIED = OpenApiResponse(description="Not modified: the If-None-Match ETag is current.")


def list_schema(summary: str, description: str, item: type[serializers.Serializer]):
    """A keyset-paginated list of `item`."""
    return extend_schema(
        summary=summary,
        description=description,
        responses={200: item(many=True), **error_responses(400, 401, 429)},
    )


def retrieve_schema(summary: str, description: str, detail: type[serializers.Serializer]):
    """One object as `detail`, or 304 while the client's If-None-Match ETag is current."""
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[IF_NONE_MATCH, etag_header(200, 304)],
        responses={200: detail, 304: NOT_MODIFIED, **error_responses(401, 404, 429)},
    )


def create_schema(
    summary: str,
    description: str,
    *,
    request: type[serializers.Serializer],
    detail: type[serializers.Serializer],
    registered_before: str,
    errors: tuple[int, ...],
):
    """A create answering 201, or 200 with the object an earlier request with the same outside key made."""
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        parameters=[IDEMPOTENCY_KEY, etag_header(200, 201)],
        responses={
            201: detail,
            200: OpenApiResponse(response=detail, description=registered_before),
            **error_responses(*errors),
        },
    )


def step_schema_for(detail: type[serializers.Serializer]):
    """The schema of the steps (POST .../{key}/<step>/) of an object answering with `detail`:
    If-Match guarded, 409 when the stored state does not allow the step."""
    parameters = [IF_MATCH, etag_header(200, 412)]
    responses = {200: detail, **error_responses(400, 401, 403, 404, 409, 412, 429)}

    def step_schema(summary: str, description: str, request: type[serializers.Serializer] | None = None):
        return extend_schema(
            summary=summary,
            description=description,
            request=request,
            parameters=parameters,
            responses=responses,
        )

    return step_schema


# --- Postprocessing --------------------------------------------------------------------------

# What a text field of a write accepts: no NUL character (DRF refuses it) and, unless
# blank is allowed, something besides blanks (DRF trims them first).
_TEXT = r"^[^\u0000]*$"
_NON_BLANK_TEXT = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"

_LIST_ERRORS = (
    "Invalid query parameters (a `limit` that is no whole number from 1, a cursor the list did not "
    "issue): `errors` maps each parameter to its errors."
)

# gunicorn refuses a request line (method, path and query) longer than its `limit_request_line`
# (4,094 bytes) before the application sees it; the answer is its own, not JSON.
_URI_TOO_LONG = (
    "Request line (path and query parameters) longer than 4,094 bytes: refused by the web server "
    "before the application reads it; the body is not JSON."
)


def _tighten_write_properties(serializer: serializers.Serializer, component: dict[str, Any]) -> None:
    properties = component.get("properties", {})
    for name, field in serializer.fields.items():
        prop = properties.get(name)
        if field.read_only or not isinstance(prop, dict) or "$ref" in prop or "allOf" in prop:
            continue
        if isinstance(field, serializers.RelatedField) and prop.get("type") == "string":
            # A related field reads "" as null, so without allow_null it must have a key.
            if not field.allow_null:
                prop["minLength"] = max(prop.get("minLength", 0), 1)
            # A key given as text is text: no NUL (StrictFieldsMixin refuses it before the lookup).
            if isinstance(field, serializers.SlugRelatedField) and not {"pattern", "format", "enum"} & set(
                prop
            ):
                prop["pattern"] = _TEXT
        elif isinstance(field, serializers.CharField) and prop.get("type") == "string":
            if "pattern" in prop or "format" in prop:
                continue
            if field.allow_blank:
                prop["pattern"] = _TEXT
            else:
                prop["minLength"] = max(prop.get("minLength", 0), 1)
                prop["pattern"] = _NON_BLANK_TEXT if field.trim_whitespace else _TEXT


def _refuse_nul(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = _TEXT


def tighten_schema(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Say in the schema what the API enforces anyway.

    - Writes whose serializer refuses unknown names (StrictFieldsMixin) take
      no other properties (`additionalProperties: false`), and their text and
      related fields say what DRF refuses (blank, NUL); `one_of_required` on
      such a serializer names the fields of which exactly one must be given.
    - A paginated list documents its 400 (bad `limit` or cursor).
    - Free-text query parameters take no NUL character (Django refuses it).
    - Every operation documents the web server's 414 for an over-long request line.
    """
    schemas = result.get("components", {}).get("schemas", {})
    if "ValidationError" in schemas:
        schemas.setdefault("FieldError", FIELD_ERROR_SCHEMA)
    for (name, kind), component in generator.registry._components.items():
        if kind != "schemas" or name not in schemas or not isinstance(component.object, StrictFieldsMixin):
            continue
        schemas[name]["additionalProperties"] = False
        _tighten_write_properties(component.object, schemas[name])
        # Exactly one of these names must be given (e.g. a member is a contact or a user).
        alternatives = getattr(component.object, "one_of_required", ())
        if alternatives and not name.startswith("Patched"):
            # Under allOf: the object stays one object to code generators (a bare oneOf of
            # `required` lists reads to them as a union of shapeless schemas).
            exactly_one = [{"required": [alternative]} for alternative in alternatives]
            schemas[name]["allOf"] = [{"oneOf": exactly_one}]

    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            names = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
            for query in operation.get("parameters", []):
                if query.get("in") == "query":
                    _refuse_nul(query["schema"].get("items", query["schema"]))
            responses = operation.get("responses", {})
            responses.setdefault("414", {"description": _URI_TOO_LONG})
            if "limit" in names and "400" not in responses:
                responses["400"] = {
                    "description": _LIST_ERRORS,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}
                    },
                }
    return result


# --- Enums and authentication, for code generators --------------------------------------------


def _choices_classes() -> list[type[models.Choices]]:
    found, pending = [], list(models.Choices.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _identifier(value: Any) -> str:
    name = re.sub(r"[^0-9A-Za-z]+", "_", str(value)).strip("_").upper() or "BLANK"
    return f"V{name}" if name[0].isdigit() else name


def enum_names(values: list[Any]) -> list[str]:
    """Identifiers for an enum's codes: the member names of the Django choices with exactly
    these values (`Urgency.URGENT` for 1), else the code made an identifier (`V10KV` for "10kV")."""
    for choices in _choices_classes():
        members = {member.value: member.name for member in choices}
        if set(members) == set(values):
            return [members[value] for value in values]
    return [_identifier(value) for value in values]


def _labels(values: list[Any]) -> list[str]:
    for choices in _choices_classes():
        members = {member.value: str(member.label) for member in choices}
        if set(members) == set(values):
            return [members[value] for value in values]
    return [str(value) for value in values]


def document_enums(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Every enum is its codes on the wire; its member names and labels are in the schema.

    `x-enum-varnames` gives generated clients real names (openapi-python-client,
    openapi-typescript, OpenAPI Generator read it) instead of `VALUE_0`;
    `x-enum-descriptions` carries each code's label (Chinese, as the UI shows it).
    Run after drf-spectacular's enum hook, which gathers the enums as components.
    """
    for component in result.get("components", {}).get("schemas", {}).values():
        values = component.get("enum")
        if not values or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            continue
        component["x-enum-varnames"] = enum_names(values)
        component["x-enum-descriptions"] = _labels(values)
    return result


def document_token_auth(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """The token scheme says its prefix: `Authorization: Token <key>` (DRF's TokenAuthentication).

    OpenAPI has no field for an API key's prefix; `x-token-prefix` names it for
    clients that build the header (openapi-python-client: `AuthenticatedClient(prefix=...)`).
    """
    scheme = result.get("components", {}).get("securitySchemes", {}).get("tokenAuth")
    if scheme is not None:
        keyword = TokenAuthentication.keyword
        scheme["x-token-prefix"] = keyword
        scheme["description"] = (
            f"Send `Authorization: {keyword} <key>`: the word `{keyword}`, one space, then the key "
            "(`manage.py drf_create_token <username>`)."
        )
    return result
