from django.urls import path
from rest_framework.routers import SimpleRouter

from customers.api import interactions, views

app_name = "customers-api"

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("interactions", interactions.InteractionViewSet, basename="interaction")
router.register("visits", interactions.VisitViewSet, basename="visit")

urlpatterns = [
    path("customers/sync/", views.CustomerSyncView.as_view(), name="customer-sync"),
    path("customers/bulk/", views.CustomerBulkView.as_view(), name="customer-bulk"),
    *router.urls,
]
