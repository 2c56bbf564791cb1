from django.urls import path

from outages import views

app_name = "outages"

urlpatterns = [
    path("", views.outage_list, name="list"),
    path("new/", views.outage_create, name="create"),
    path("customer/<str:number>/", views.customer_panel, name="customer_panel"),
    path("<int:pk>/", views.outage_detail, name="detail"),
    path("<int:pk>/reach/", views.outage_reach, name="reach"),
    path("<int:pk>/reach.xlsx", views.outage_reach_export, name="reach_export"),
    path("<int:pk>/<slug:action>/", views.outage_action, name="action"),
]
