from django.urls import path

from workspace import views

urlpatterns = [
    path("", views.home, name="home"),
    path("workbench/sign/<str:number>/", views.workbench_sign, name="workbench_sign"),
    path("workbench/<slug:section>/", views.workbench_section, name="workbench_section"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("search/", views.search, name="search"),
    path("healthz", views.healthz, name="healthz"),
    # The customer 360 page lives under customers/; its timeline composes several apps.
    path("customers/<str:number>/timeline/", views.customer_timeline, name="customer_timeline"),
]
