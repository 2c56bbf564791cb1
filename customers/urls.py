from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export.xlsx", views.customer_export, name="export"),
    path("exports/<int:pk>/", views.customer_export_detail, name="export_detail"),
    path("exports/<int:pk>/download/", views.customer_export_download, name="export_download"),
    path("pickers/districts/", views.picker_districts, name="picker_districts"),
    path("pickers/lines/", views.picker_lines, name="picker_lines"),
    path("<str:number>/", views.customer_detail, name="detail"),
    path("<str:number>/edit/", views.customer_edit, name="edit"),
    path("<str:number>/verify/", views.customer_verify, name="verify"),
    path("<str:number>/delete/", views.customer_delete, name="delete"),
    path("<str:number>/contacts/new/", views.contact_create, name="contact_create"),
    path("<str:number>/contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("<str:number>/contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("interactions/new/", views.interaction_quick_create, name="interaction_quick_create"),
    path("visits/mine/", views.visit_planner, name="visit_planner"),
    path("visits/<int:pk>/confirm/", views.visit_confirm, name="visit_confirm"),
    path("visits/<int:pk>/prepare/", views.visit_prepare, name="visit_prepare"),
    path("visits/<int:pk>/complete/", views.visit_complete, name="visit_complete"),
    path("<str:number>/interactions/new/", views.interaction_create, name="interaction_create"),
    path("<str:number>/visits/new/", views.visit_create, name="visit_create"),
    path("imports/new/", views.customer_import, name="import"),
    path("imports/template.xlsx", views.customer_import_template, name="import_template"),
    path("imports/<int:pk>/", views.customer_import_detail, name="import_detail"),
    path("imports/<int:pk>/confirm/", views.customer_import_confirm, name="import_confirm"),
]
