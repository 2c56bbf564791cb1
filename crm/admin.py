"""The periodic tasks in the admin, each with what it does in the reader's language.

The rows are named by code (tickets-sla-scan) and point at a task path; the
labels below say what each one is for. Every task of
settings.BEAT_SCHEDULE_DEFAULTS has one (tests/i18n/test_admin_labels.py).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

TASK_LABELS = {
    "notifications.tasks.deliver_due_notifications": _("发送到期的消息"),
    "tickets.tasks.sla_scan": _("工单时限扫描（预警与超时）"),
    "tickets.tasks.return_visit_scan": _("工单回访到期扫描"),
    "tickets.tasks.promise_scan": _("办结承诺到期扫描"),
    "core.tasks.purge_idempotency_keys": _("清理过期的幂等键"),
    "customers.tasks.remind_stale_archives": _("提醒核实陈旧档案"),
    "customers.tasks.schedule_routine_visits": _("安排例行走访"),
    "customers.tasks.sweep_exports": _("重新排队停滞的档案导出并删除过期文件"),
    "groups.tasks.inquiry_reminder_scan": _("群内咨询回复提醒"),
    "groups.tasks.publish_due_broadcasts": _("发布到时的群发"),
    "outages.tasks.fan_out_notices": _("发出到时的停电通知"),
    "outages.tasks.long_outage_scan": _("长时间停电扫描"),
    "reach.tasks.refresh_reach": _("刷新停电触达统计"),
    "groups.tasks.refresh_group_health": _("刷新客户群服务情况"),
    "wecom.tasks.process_pending_callbacks": _("处理待处理的企业微信回调"),
    "groups.tasks.create_group_post_tasks": _("创建群发任务"),
    "groups.tasks.poll_group_posts": _("查询群发结果"),
    "groups.tasks.pull_chat_archive": _("拉取会话存档"),
    "groups.tasks.reconcile_wecom_groups": _("与企业微信核对客户群"),
    "groups.tasks.zombie_scan": _("僵尸群扫描"),
    "notifications.tasks.send_digests": _("发送主管的超时升级汇总"),
    "reach.tasks.send_personal_posts": _("企业微信一对一通知：建任务与查结果"),
    "workspace.tasks.warm_dashboards": _("预先计算主管常看的监控看板"),
    "celery.backend_cleanup": _("清理任务结果"),
}


def task_label(task_path: str) -> str:
    return str(TASK_LABELS.get(task_path, task_path))


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class LabelledPeriodicTaskAdmin(PeriodicTaskAdmin):
    list_display = ("name", "purpose", *[f for f in PeriodicTaskAdmin.list_display if f != "name"])

    @admin.display(description=_("用途"), ordering="task")
    def purpose(self, task: PeriodicTask) -> str:
        return task_label(task.task)
