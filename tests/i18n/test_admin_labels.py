"""The admin speaks the reader's language too: field labels, filters, notice kinds, task names.

Our models name their fields in Chinese (translated by the English catalogue);
a field without a verbose_name would show Django's English guess from the
column name on a Chinese page ("Attention due at").
"""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.utils import timezone, translation
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from crm.admin import TASK_LABELS
from outages.models import Outage, OutageKind, OutageNotice, OutageStatus
from tests.factories import CustomerFactory
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

OUR_APPS = {
    "accounts",
    "wecom",
    "notifications",
    "customers",
    "groups",
    "reach",
    "tickets",
    "outages",
    "workspace",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _shown_fields(model_admin) -> set[str]:
    names = {n for n in getattr(model_admin, "list_display", ()) if isinstance(n, str) and n != "__str__"}
    names |= {n for n in model_admin.get_readonly_fields(None) if isinstance(n, str)}
    names |= {n for n in getattr(model_admin, "list_filter", ()) if isinstance(n, str)}
    model = model_admin.model
    names |= {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False) and f.editable}
    return names - {"id"}


def test_every_admin_label_of_our_models_is_named_in_chinese():
    unnamed = []
    with translation.override("zh-hans"):
        for model, model_admin in admin.site._registry.items():
            if model._meta.app_label not in OUR_APPS:
                continue
            admins = [model_admin, *(inline(model, admin.site) for inline in model_admin.inlines)]
            for each in admins:
                for name in _shown_fields(each):
                    label = str(label_for_field(name, each.model, each))
                    if not CJK.search(label):
                        unnamed.append(f"{each.model.__name__}.{name}: {label}")
    assert unnamed == []


def test_every_periodic_task_has_a_label():
    tasks = {entry["task"] for entry in settings.BEAT_SCHEDULE_DEFAULTS.values()}
    assert tasks - set(TASK_LABELS) == set()


@pytest.mark.parametrize(
    "language,label",
    [("zh-hans", "工单时限扫描（预警与超时）"), ("en", "Work-order deadline scan (warnings and overdue)")],
)
def test_the_task_list_says_what_each_task_does(language, label, client, admin_user):
    every_minute, _created = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="tickets-sla-scan", task="tickets.tasks.sla_scan", interval=every_minute)
    client.force_login(admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get("/admin/django_celery_beat/periodictask/").content.decode()
    assert label in html


@pytest.mark.parametrize("language,label", [("zh-hans", "提前1天通知"), ("en", "Notice 1 day ahead")])
def test_outage_notices_show_their_kind_not_its_code(language, label, client, admin_user, org_tree):
    start = timezone.now() + timedelta(days=3)
    outage = Outage.objects.create(
        kind=OutageKind.PLANNED,
        reason="10kV永乐线检修",
        status=OutageStatus.PUBLISHED,
        org_unit=org_tree["station"],
        planned_start=start,
        planned_end=start + timedelta(hours=6),
    )
    OutageNotice.objects.create(outage=outage, kind=OutageNotice.ADVANCE_1D, due_at=start - timedelta(days=1))
    client.force_login(admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(f"/admin/outages/outage/{outage.pk}/change/").content.decode()
    assert label in html
    assert "advance-1d" not in html


def test_an_order_in_the_admin_shows_no_column_names(client, admin_user, org_tree, manager):
    seed_default_policies(SlaPolicy)
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ticket, _created = ticket_services.ticket_create(
        customer=customer, opened_by=manager, kind=Kind.COMPLAINT, title="电费异常", description="请核实。"
    )
    client.force_login(admin_user)
    html = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "工单编号" in html
    assert "attention" not in html.lower()


def test_users_filter_by_the_level_of_their_unit(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/accounts/user/").content.decode()
    assert "单位层级" in html and "Org unit" not in html
