"""The REST API: /api/v1/ for resources, /api/schema/ and /api/docs/ for the OpenAPI description."""

from csp.decorators import csp_update
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

v1 = [
    path("", include("customers.api.urls")),
    path("", include("groups.api.urls")),
    path("", include("tickets.api.urls")),
    path("", include("outages.api.urls")),
]

# Swagger UI comes from its CDN; the split view serves its start-up script as a
# file (?script) rather than inline, so only the CDN is added to the policy.
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
api_docs = csp_update({"script-src": [_SWAGGER_CDN], "style-src": [_SWAGGER_CDN], "img-src": [_SWAGGER_CDN]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)


# Exempt from CSRF: it changes nothing, and a POST to a path that names nothing is a 404,
# not Django's HTML 403 page for a missing CSRF token.
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """An API client gets JSON for a path that names nothing, not the HTML 404 page."""
    return JsonResponse({"detail": _("未找到。"), "code": "not_found"}, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", api_docs, name="api-docs"),
    path("v1/", include(v1)),
    # Last: paths ending in "/" only, so a missing slash still gets Django's redirect first.
    re_path(r"^.*/$", api_not_found, name="api-not-found"),
]
