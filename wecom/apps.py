from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WecomConfig(AppConfig):
    """The connection to the corporation's 企业微信: API client, callbacks, status."""

    name = "wecom"
    verbose_name = _("企业微信")
