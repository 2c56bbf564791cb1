from rest_framework.routers import SimpleRouter

from outages.api import views

app_name = "outages-api"

router = SimpleRouter()
router.register("outages", views.OutageViewSet, basename="outage")

urlpatterns = router.urls
