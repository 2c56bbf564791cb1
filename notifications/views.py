from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from notifications.models import Notification


@login_required
def inbox(request):
    items = Notification.objects.inbox_of(request.user)[:50]
    return render(request, "notifications/inbox.html", {"items": items})
