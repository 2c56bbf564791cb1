from django.urls import path

from groups import views

app_name = "groups"

urlpatterns = [
    path("", views.group_list, name="list"),
    path("new/", views.group_create, name="create"),
    path("pickers/owners/", views.picker_owners, name="picker_owners"),
    path("broadcasts/", views.broadcast_list, name="broadcasts"),
    path("broadcasts/new/", views.broadcast_create, name="broadcast_create"),
    path("broadcasts/<int:pk>/", views.broadcast_detail, name="broadcast_detail"),
    path("broadcasts/<int:pk>/publish/", views.broadcast_publish, name="broadcast_publish"),
    path("templates/", views.template_list, name="templates"),
    path("templates/search/", views.template_search, name="template_search"),
    path("templates/<int:pk>/use/", views.template_use, name="template_use"),
    path("<int:pk>/", views.group_detail, name="detail"),
    path("<int:pk>/edit/", views.group_edit, name="edit"),
    path("<int:pk>/archive/", views.group_archive, name="archive"),
    path("<int:pk>/join/", views.group_join, name="join"),
    path("<int:pk>/members/", views.member_add, name="member_add"),
    path("<int:pk>/members/<int:member_pk>/leave/", views.member_leave, name="member_leave"),
    path("<int:pk>/add-district-customers/", views.add_district_customers, name="add_district_customers"),
    path("<int:pk>/unlinked/<int:member_pk>/link/", views.unlinked_member_link, name="unlinked_member_link"),
    path("<int:pk>/messages/", views.message_log, name="messages"),
    path("<int:pk>/reply/", views.reply, name="reply"),
]
