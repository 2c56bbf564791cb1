from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from notifications.selectors import inbox_for, inbox_page
from notifications.services import notification_mark_read, notifications_mark_all_read


def _back(request):
    """Redirect to `next` when it points into this site, else to the inbox."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(reverse("notifications:inbox"))


@login_required
@require_GET
def inbox(request):
    try:
        before = int(request.GET["before"])
    except (KeyError, ValueError):
        before = None
    page = inbox_page(user=request.user, before=before)
    return render(
        request,
        "notifications/inbox.html",
        {"items": page.items, "next_before": page.next_before, "before": before},
    )


@login_required
@require_POST
def mark_read(request, pk: int):
    notification = get_object_or_404(inbox_for(request.user), pk=pk)
    notification_mark_read(notification=notification, user=request.user)
    return _back(request)


@login_required
@require_POST
def mark_all_read(request):
    count = notifications_mark_all_read(user=request.user)
    if count:
        text = ngettext("已将 %(count)d 条消息标为已读。", "已将 %(count)d 条消息标为已读。", count)
        messages.success(request, text % {"count": count})
    return _back(request)
