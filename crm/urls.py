from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("workspace.urls")),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("groups/", include("groups.urls")),
    path("tickets/", include("tickets.urls")),
    path("outages/", include("outages.urls")),
    path("reach/", include("reach.urls")),
    path("notifications/", include("notifications.urls")),
    path("wecom/", include("wecom.urls")),
    path("api/", include("crm.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
