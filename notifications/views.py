import hmac
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from notifications.selectors import inbox_for, inbox_page
from notifications.services import (
    notification_mark_read,
    notifications_mark_all_read,
    notifications_mark_group_read,
)
from notifications.sms_kinds import SmsProvider
from notifications.sms_receipts import RECEIPT_PARSERS, MalformedReceipts, sms_receipts_apply


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
    """Mark one message read, or with `group` set, every message of its inbox group."""
    notification = get_object_or_404(inbox_for(request.user), pk=pk)
    if request.POST.get("group"):
        notifications_mark_group_read(notification=notification, user=request.user)
    else:
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


# --- SMS delivery receipts (called by the providers, not by users) ----------

RECEIPT_ANSWERS = {
    SmsProvider.ALIYUN: {"code": 0, "msg": "成功"},
    SmsProvider.TENCENT: {"result": 0, "errmsg": "OK"},
    SmsProvider.GATEWAY: {"ok": True},
}


def _receipt_token(request) -> str:
    """The token from a header, or from the URL for providers that can only be given a URL."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :].strip()
    return request.headers.get("X-Receipt-Token") or request.GET.get("token", "")


@csrf_exempt
@require_POST
def sms_receipts(request, provider: str):
    """Apply a provider's batch of delivery receipts; answer in the provider's success format.

    Authenticated by SMS_RECEIPT_TOKEN (401 without a token, 403 with a wrong one
    or when none is configured); a body that is not the provider's JSON is a 400
    with a code and changes nothing.
    """
    parse = RECEIPT_PARSERS.get(provider)
    if parse is None:
        raise Http404
    token = _receipt_token(request)
    if not token:
        return JsonResponse({"detail": _("缺少回执令牌。"), "code": "token_missing"}, status=401)
    expected = settings.SMS_RECEIPT_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return JsonResponse({"detail": _("回执令牌无效。"), "code": "token_invalid"}, status=403)
    try:
        payload = json.loads(request.body)
    except RequestDataTooBig:
        return JsonResponse({"detail": _("请求内容过大。"), "code": "request_too_large"}, status=413)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"detail": _("回执不是有效的 JSON。"), "code": "malformed_json"}, status=400)
    try:
        receipts = parse(payload)
    except MalformedReceipts as exc:
        return JsonResponse(
            {"detail": _("回执格式不正确。"), "code": "malformed_receipt", "reason": str(exc)}, status=400
        )
    sms_receipts_apply(provider=provider, receipts=receipts)
    return JsonResponse(RECEIPT_ANSWERS[provider], json_dumps_params={"ensure_ascii": False})
