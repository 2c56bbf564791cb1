from rest_framework.routers import SimpleRouter

from tickets.api import views

app_name = "tickets-api"

router = SimpleRouter()
router.register("tickets", views.TicketViewSet, basename="ticket")

urlpatterns = router.urls
