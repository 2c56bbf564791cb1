from django.urls import path

from workspace import toolbar_views, views
from workspace.ops import views as ops_views

urlpatterns = [
    path("", views.home, name="home"),
    path("workbench/sign/<str:number>/", views.workbench_sign, name="workbench_sign"),
    path("workbench/<slug:section>/", views.workbench_section, name="workbench_section"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", views.dashboard_export, name="dashboard_export"),
    path("search/", views.search, name="search"),
    path("healthz", views.healthz, name="healthz"),
    # Operations: the page for administrators, its JSON for monitoring, Prometheus figures.
    path("ops/", ops_views.ops_page, name="ops"),
    path("healthz/ops", ops_views.ops_health, name="ops_health"),
    path("metrics", ops_views.metrics, name="metrics"),
    # The customer 360 page lives under customers/; its timeline composes several apps.
    path("customers/<str:number>/timeline/", views.customer_timeline, name="customer_timeline"),
    # WeCom's chat toolbar (聊天工具栏) page and its WeCom sign-in.
    path("wecom/toolbar/", toolbar_views.toolbar, name="wecom_toolbar"),
    path("wecom/toolbar/signin/", toolbar_views.toolbar_signin, name="wecom_toolbar_signin"),
    path("wecom/toolbar/oauth/", toolbar_views.toolbar_oauth, name="wecom_toolbar_oauth"),
]
