from django.urls import path

from reach import views

app_name = "reach"

urlpatterns = [
    path("calls/", views.call_list, name="calls"),
    path("calls/<int:pk>/<slug:outcome>/", views.call_record, name="call_record"),
]
