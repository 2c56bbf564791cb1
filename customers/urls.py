from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("export.xlsx", views.customer_export, name="export"),
    path("<str:number>/", views.customer_detail, name="detail"),
    path("<str:number>/edit/", views.customer_edit, name="edit"),
    path("<str:number>/verify/", views.customer_verify, name="verify"),
    path("<str:number>/delete/", views.customer_delete, name="delete"),
    path("<str:number>/contacts/new/", views.contact_create, name="contact_create"),
    path("<str:number>/contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("<str:number>/contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
]
