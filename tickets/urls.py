from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("bulk/", views.ticket_bulk, name="bulk"),
    path("staff-options/", views.unit_staff_options, name="staff_options"),
    path(
        "from-group-message/<int:message_id>/",
        views.ticket_from_group_message,
        name="from_group_message",
    ),
    # The customer's own rating: no login, the signed token is the key (tickets.survey).
    path("survey/<str:token>/", views.survey, name="survey"),
    path("<str:number>/", views.ticket_detail, name="detail"),
    path("<str:number>/attachments/<int:pk>/", views.ticket_attachment, name="attachment"),
    path("<str:number>/<slug:action>/", views.ticket_action, name="action"),
]
