"""The query string of every API operation: documented parameters only, each at most once.

An operation's parameters are the ones its schema documents: its filter set's,
its paginator's (`cursor`, `limit`), `ordering` where the view declares
`ordering_fields` (all three on lists only) and the query parameters of its
`extend_schema`. Anything else is a 400 naming it (`unknown_parameter`): a
misspelt filter (`?staton=LS01`) would otherwise answer the whole list as if
it had matched.

A parameter given twice is read as a list where it takes several values
(`?station=A&station=B` means `?station=A,B`: OR, see core/api/filters.py)
and is a 400 elsewhere (`repeated_parameter`): Django would keep only the last.

The check runs as a permission, so after authentication (an anonymous client
gets its 401 first) and before the view reads anything.
"""

from django.utils.translation import gettext_lazy as _
from django_filters.filters import BaseCSVFilter
from rest_framework import exceptions, mixins, permissions, serializers
from rest_framework.negotiation import DefaultContentNegotiation

# Imported by DRF's settings, as a default permission: nothing here may import rest_framework.views.

# DRF's own: `?format=json` picks the renderer.
ALWAYS_ALLOWED = frozenset({"format"})


class UnknownParameter(exceptions.ValidationError):
    """A query parameter the operation does not document."""

    default_code = "unknown_parameter"


class RepeatedParameter(exceptions.ValidationError):
    """A single-valued query parameter given more than once."""

    default_code = "repeated_parameter"


def _lists(view) -> bool:
    action = getattr(view, "action", None)
    if action is not None:
        return action == "list"
    return view.request.method == "GET" and isinstance(view, mixins.ListModelMixin)


def _documented(view) -> set[str]:
    """The query parameters of the operation's `extend_schema`."""
    from drf_spectacular.utils import OpenApiParameter

    handler_name = getattr(view, "action", None) or view.request.method.lower()
    handler = getattr(view, handler_name, None)
    schema_class = getattr(handler, "kwargs", {}).get("schema")
    if schema_class is None or not hasattr(schema_class, "get_override_parameters"):
        return set()
    schema = schema_class()
    schema.view = view
    schema.method = view.request.method
    names = set()
    for parameter in schema.get_override_parameters():
        if isinstance(parameter, OpenApiParameter):
            if parameter.location == OpenApiParameter.QUERY:
                names.add(parameter.name)
        elif isinstance(parameter, type) and issubclass(parameter, serializers.Serializer):
            names.update(parameter().fields)
        elif isinstance(parameter, serializers.Serializer):
            names.update(parameter.fields)
    return names


def query_parameters(view) -> tuple[set[str], set[str]]:
    """(every parameter the operation takes, those of them that take several values)."""
    allowed = set(ALWAYS_ALLOWED) | _documented(view)
    several: set[str] = set()
    if _lists(view):
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is not None:
            for name, filter_ in filterset_class.base_filters.items():
                allowed.add(name)
                if isinstance(filter_, BaseCSVFilter):
                    several.add(name)
        paginator = getattr(view, "paginator", None)
        for attribute in ("cursor_query_param", "page_size_query_param"):
            if getattr(paginator, attribute, None):
                allowed.add(getattr(paginator, attribute))
        if getattr(view, "ordering_fields", None):
            allowed.add("ordering")
    return allowed, several


def _handles(view, method: str) -> bool:
    """Whether the view has a handler for `method` (a viewset maps only its actions' methods)."""
    name = method.lower()
    return name in view.http_method_names and callable(getattr(view, name, None))


class KnownQueryParameters(permissions.BasePermission):
    """Refuse (400) parameters the operation does not take, and single values given twice."""

    def has_permission(self, request, view) -> bool:
        params = request.query_params
        if not params or not _handles(view, request.method):
            # A method the operation does not have is answered 405 by the view, whatever the query.
            return True
        allowed, several = query_parameters(view)
        unknown = sorted(name for name in params if name not in allowed)
        if unknown:
            message = _("未知的查询参数。")
            raise UnknownParameter({name: [message] for name in unknown}, code=UnknownParameter.default_code)
        repeated = sorted(name for name in params if len(params.getlist(name)) > 1 and name not in several)
        if repeated:
            message = _("该参数只能给出一次。")
            detail = {name: [message] for name in repeated}
            raise RepeatedParameter(detail, code=RepeatedParameter.default_code)
        return True


class KnownFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names one of the view's renderers; a blank or unknown one is a 400.

    DRF reads a blank `?format=` as none given and answers an unknown one 404, as if the
    resource were missing. Negotiation runs before authentication and permissions.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        formats = request.query_params.getlist(self.settings.URL_FORMAT_OVERRIDE)
        if not format_suffix and formats and not set(formats) <= {renderer.format for renderer in renderers}:
            message = _("响应格式必须是接口提供的一种（如 json）。")
            raise exceptions.ValidationError({"format": [message]}, code="invalid")
        return super().select_renderer(request, renderers, format_suffix)
