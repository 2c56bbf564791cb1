"""The REST API: /api/v1/ for resources; /api/schema/, /api/docs/, /api/redoc/ describe it (OpenAPI)."""

from functools import wraps

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission

v1 = [
    path("", include("customers.api.urls")),
    path("", include("groups.api.urls")),
    path("", include("tickets.api.urls")),
    path("", include("outages.api.urls")),
]


class DocsPermission(BasePermission):
    """The schema for anyone when API_DOCS_PUBLIC, else for a signed-in user or a token holder."""

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


def docs_page(view):
    """A docs page: a visitor who may not read it is sent to the login page, as elsewhere on the site."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


# Both pages load their bundles from our static files (drf-spectacular-sidecar): the
# policy stays 'self'. Swagger's start-up script is a file (?script), not inline;
# ReDoc renders the schema in a web worker it creates from a blob: URL.
api_docs = docs_page(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[DocsPermission])
)
api_redoc = docs_page(
    csp_update({"worker-src": ["blob:"]})(
        SpectacularRedocView.as_view(url_name="api-schema", permission_classes=[DocsPermission])
    )
)


# Exempt from CSRF: it changes nothing, and a POST to a path that names nothing is a 404,
# not Django's HTML 403 page for a missing CSRF token.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """An API client gets JSON for a path that names nothing, not the HTML 404 page."""
    return JsonResponse({"detail": _("未找到。"), "code": "not_found"}, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[DocsPermission]), name="api-schema"),
    path("docs/", api_docs, name="api-docs"),
    path("redoc/", api_redoc, name="api-redoc"),
    path("v1/", include(v1)),
    # Last: paths ending in "/" only, so a missing slash still gets Django's redirect first.
    re_path(r"^.*/$", api_not_found, name="api-not-found"),
]
