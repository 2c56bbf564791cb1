"""The kinds of SMS the CRM sends: one slug per approved provider template.

Carriers in China only deliver SMS that follow a template the provider has
approved, so every SMS names its kind (`Notification.template_kind`) and its
parameters; `SmsTemplate` maps a kind to each provider's template code.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SmsKind(models.TextChoices):
    OUTAGE_ADVANCE = "outage_advance", _("停电预告")
    OUTAGE_START = "outage_start", _("停电开始")
    OUTAGE_DELAY = "outage_delay", _("停电延时")
    OUTAGE_RESTORED = "outage_restored", _("恢复送电")
    OUTAGE_CANCELLED = "outage_cancelled", _("停电取消")
    COMPLAINT_ACCEPTED = "complaint_accepted", _("投诉受理")
    REPAIR_ACCEPTED = "repair_accepted", _("报修受理")
    BROADCAST_IMPORTANT = "broadcast_important", _("重要通知")
    SATISFACTION_SURVEY = "satisfaction_survey", _("满意度评价")
    GENERIC = "generic", _("通用通知")


class SmsProvider(models.TextChoices):
    GATEWAY = "gateway", _("HTTP 短信网关")
    ALIYUN = "aliyun", _("阿里云短信")
    TENCENT = "tencent", _("腾讯云短信")


# The parameters each kind's template takes, in order: what callers put in
# `template_params`. Every template may also use `subject`, `body` and
# `content` (the row's own text), filled in by the backend.
SMS_KIND_PARAMS: dict[str, tuple[str, ...]] = {
    SmsKind.OUTAGE_ADVANCE: ("area", "start", "end"),
    SmsKind.OUTAGE_START: ("area", "restore"),
    SmsKind.OUTAGE_DELAY: ("area", "restore"),
    SmsKind.OUTAGE_RESTORED: ("area", "time"),
    SmsKind.OUTAGE_CANCELLED: ("area", "start"),
    SmsKind.COMPLAINT_ACCEPTED: ("number",),
    SmsKind.REPAIR_ACCEPTED: ("number",),
    SmsKind.BROADCAST_IMPORTANT: ("content",),
    SmsKind.SATISFACTION_SURVEY: ("number", "link"),
    SmsKind.GENERIC: ("content",),
}
