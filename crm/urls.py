from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from crm import views

urlpatterns = [
    path("", views.home, name="home"),
    path("workbench/sign/<str:number>/", views.workbench_sign, name="workbench_sign"),
    path("workbench/<slug:section>/", views.workbench_section, name="workbench_section"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("search/", views.search, name="search"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("groups/", include("groups.urls")),
    path("tickets/", include("tickets.urls")),
    path("outages/", include("outages.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/", include("crm.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
