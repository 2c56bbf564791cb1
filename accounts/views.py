"""Login throttling hooks for django-axes (settings: AXES_LOCKOUT_CALLABLE; the address: core/client.py)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

# 429 Too Many Requests: the attempts, not the credentials, are refused.
LOCKED_OUT_STATUS = 429


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The answer to a login attempt while its username and address are locked out."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _("登录失败次数过多，该账户已暂时锁定，请%(minutes)s分钟后再试，或联系系统管理员解锁。") % {
        "minutes": minutes
    }
    if request.path.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse({"detail": message}, status=LOCKED_OUT_STATUS)
    return render(
        request,
        "accounts/locked_out.html",
        {"message": message, "minutes": minutes},
        status=LOCKED_OUT_STATUS,
    )
