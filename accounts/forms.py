"""Sign-in forms: who may use the web pages and the admin at all."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

API_ONLY_MESSAGE = _("系统对接账号只能通过API令牌访问，不能登录网页。请使用为该系统签发的API令牌。")


class WebSignInRule:
    """Integration accounts (systems) use their API token only: their password opens no web session.

    Checked after the password, so the message tells nothing about an account to someone
    who does not know its password.
    """

    refused_message = ""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user.is_integration:
            self.refused_message = API_ONLY_MESSAGE
            raise ValidationError(API_ONLY_MESSAGE, code="api_only")


class LoginForm(WebSignInRule, AuthenticationForm):
    pass


class AdminLoginForm(WebSignInRule, AdminAuthenticationForm):
    pass
