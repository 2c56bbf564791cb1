"""Login throttling hooks for django-axes (settings: AXES_LOCKOUT_CALLABLE; the address: core/client.py),
and the people pickers' endpoints."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.choices import account_managers_for, staff_for
from accounts.models import User
from core.forms import with_detail
from core.pickers import picker_response

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


# --- Pickers: people a form's searchable select offers (core.pickers) -------------------


def _person_label(user: User) -> str:
    # As the customer form names a manager: 张三（雷山供电所）.
    name = user.real_name or user.username
    return with_detail(name, user.org_unit) if user.org_unit_id else name


@login_required
@require_GET
def picker_managers(request):
    """Account managers the user may name as a customer's manager, by name or username."""
    return picker_response(
        request,
        account_managers_for(request.user).select_related("org_unit"),
        search=("real_name", "username"),
        label=_person_label,
    )


@login_required
@require_GET
def picker_staff(request):
    """Active staff of the user's subtree (an order's assignee to filter by), by name or username."""
    return picker_response(
        request,
        staff_for(request.user).select_related("org_unit"),
        search=("real_name", "username"),
        label=_person_label,
    )
