"""The chat toolbar page and its WeCom sign-in (OAuth2: a member opens it inside WeCom
and is signed in as the CRM user bound to their WeCom userid — no second password)."""

from __future__ import annotations

import logging
import secrets

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import User
from wecom.client import WeComClient, WeComError, WeComException, WeComNotConfigured, WeComTransientError
from wecom.jssdk import agent_config
from workspace.toolbar import toolbar_for_chat, toolbar_for_contact

logger = logging.getLogger(__name__)

SESSION_KEY = "wecom_oauth"
# WeCom's JS-SDK, loaded only by the toolbar page.
JSSDK_SCRIPTS = (
    "https://res.wx.qq.com/open/js/jweixin-1.2.0.js",
    "https://open.work.weixin.qq.com/wwopen/js/jwxwork-1.0.0.js",
)


def _problem(request, message: str, status: int):
    return render(request, "workspace/toolbar_problem.html", {"message": message}, status=status)


def _safe_next(request, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("wecom_toolbar")


@require_GET
def toolbar_signin(request):
    """Send the member to WeCom's OAuth2 page; WeCom sends them back to `toolbar_oauth`."""
    next_url = _safe_next(request, request.GET.get("next", ""))
    client = WeComClient.agent()
    if not client.configured:
        return redirect_to_login(next_url)
    state = secrets.token_urlsafe(16)
    request.session[SESSION_KEY] = {"state": state, "next": next_url}
    redirect_uri = f"{settings.SITE_URL}{reverse('wecom_toolbar_oauth')}"
    return redirect(client.oauth_authorize_url(redirect_uri=redirect_uri, state=state))


@require_GET
def toolbar_oauth(request):
    """WeCom's redirect back with a one-time code: find the member's userid, sign the bound user in."""
    saved = request.session.pop(SESSION_KEY, None) or {}
    state, code = request.GET.get("state", ""), request.GET.get("code", "")
    if not saved.get("state") or not constant_time_compare(state, saved["state"]) or not code:
        return _problem(request, _("登录请求已失效，请从企业微信重新打开工具栏。"), 400)
    try:
        userid = WeComClient.agent().oauth_userid(code)
    except WeComNotConfigured:
        return redirect_to_login(saved.get("next") or reverse("wecom_toolbar"))
    except WeComTransientError:
        return _problem(request, _("企业微信暂时无法访问，请稍后重试。"), 503)
    except WeComError as exc:
        logger.info("WeCom sign-in refused: errcode %s", exc.errcode)
        return _problem(request, _("企业微信登录失败，请从企业微信重新打开工具栏。"), 403)
    # Integration accounts are for systems: they never sign in to pages, through WeCom neither.
    user = (
        User.objects.filter(wecom_userid=userid, is_active=True).exclude(role=User.Role.INTEGRATION).first()
    )
    if user is None:
        return _problem(request, _("您的企业微信账号尚未绑定本系统用户，请联系系统管理员。"), 403)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(_safe_next(request, saved.get("next", "")))


@require_GET
@csp_update({"script-src": list(JSSDK_SCRIPTS)})
def toolbar(request):
    """Beside a group (`chat_id`) or a one-to-one chat (`external_userid`); without either,
    the page asks WeCom's JS-SDK which chat it is beside and reloads with it."""
    if not request.user.is_authenticated:
        if WeComClient.agent().configured:
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('wecom_toolbar_signin')}?{query}")
        return redirect_to_login(request.get_full_path())
    chat_id, external_userid = request.GET.get("chat_id"), request.GET.get("external_userid")
    view, jssdk = None, None
    if chat_id:
        view = toolbar_for_chat(user=request.user, chat_id=chat_id)
    elif external_userid:
        view = toolbar_for_contact(user=request.user, external_userid=external_userid)
    elif WeComClient.agent().configured:
        try:
            jssdk = agent_config(request.build_absolute_uri())
        except WeComException as exc:
            logger.warning("WeCom JS-SDK config unavailable (%s)", type(exc).__name__)
    return render(request, "workspace/toolbar.html", {"view": view, "jssdk": jssdk})
