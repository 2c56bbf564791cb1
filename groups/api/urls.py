from django.urls import path
from rest_framework.routers import SimpleRouter

from groups.api import views

app_name = "groups-api"

router = SimpleRouter()
router.register("groups", views.GroupViewSet, basename="group")

urlpatterns = [
    *router.urls,
    path("groups/<int:group_pk>/members/", views.GroupMemberListView.as_view(), name="group-members"),
    path(
        "groups/<int:group_pk>/members/<int:pk>/",
        views.GroupMemberDetailView.as_view(),
        name="group-member",
    ),
    path(
        "groups/<int:group_pk>/members/<int:pk>/leave/",
        views.GroupMemberLeaveView.as_view(),
        name="group-member-leave",
    ),
    path("groups/<int:group_pk>/messages/", views.GroupMessageListView.as_view(), name="group-messages"),
]
