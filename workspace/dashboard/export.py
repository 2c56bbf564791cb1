"""The dashboard's figures and tables as an .xlsx workbook."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from core.xlsx import Sheet, workbook_bytes
from tickets.models import ReturnVisit
from tickets.satisfaction import CHANNEL_CHOICES, DEFINITION
from workspace.dashboard.presentation import Dashboard


def export_filename(board: Dashboard) -> str:
    period = f"{board.period.first_day:%Y%m%d}-{board.period.last_day:%Y%m%d}"
    return f"dashboard-{period}-{timezone.localtime(board.computed_at):%Y%m%d-%H%M}.xlsx"


def _satisfaction_rows(board: Dashboard) -> list[list]:
    """The headline, then each segment and each unit: the same counts as the page."""
    satisfaction = board.charts["satisfaction"]
    groups = [
        (_("合计"), satisfaction["total"]),
        *((_("客户类别"), group) for group in satisfaction["segment"]["rows"]),
        *((_("单位"), group) for group in satisfaction["unit"]["rows"]),
    ]
    return [
        [
            kind,
            group["label"],
            group["rate"] if group["rate"] is not None else "",
            group["n"],
            *(group[result] for result in ReturnVisit.Result.values),
            *(group[channel] for channel, _label in CHANNEL_CHOICES),
        ]
        for kind, group in groups
    ]


def dashboard_workbook(board: Dashboard) -> bytes:
    """One sheet each: the figures, the overdue orders, the workload, the urges, the satisfaction."""
    computed = timezone.localtime(board.computed_at)
    days = f"{board.period.first_day:%Y-%m-%d} — {board.period.last_day:%Y-%m-%d}"
    about = [
        [_("统计单位"), board.scope],
        [_("统计期间"), f"{board.period.label}（{days}）"],
        [_("数据时间"), f"{computed:%Y-%m-%d %H:%M:%S}"],
        [_("说明"), str(DEFINITION)],
    ]
    figures = [[f.label, f.value if f.value is not None else "", f.unit, f.note] for f in board.figures]
    figures += [[], *about]
    return workbook_bytes(
        [
            Sheet(_("说明"), [_("监控看板"), ""], about),
            Sheet(_("指标"), [_("指标"), _("数值"), _("单位"), _("说明")], figures),
            Sheet(
                _("超时工单"),
                [
                    _("工单编号"),
                    _("标题"),
                    _("类型"),
                    _("状态"),
                    _("责任单位"),
                    _("处理人"),
                    _("超时(小时)"),
                    _("升级级别"),
                    _("催办次数"),
                ],
                [
                    [
                        r["number"],
                        r["title"],
                        r["kind_label"],
                        r["status_label"],
                        r["org_unit__name"],
                        r["assignee"],
                        r["overdue_hours"],
                        r["escalation_level"],
                        r["urge_count"],
                    ]
                    for r in board.overdue_rows
                ],
            ),
            Sheet(
                _("工作量"),
                [_("客户经理"), _("单位"), _("未办结"), _("已超时"), _("即将超时"), _("待回访")],
                [
                    [r["name"], r["unit"], r["open"], r["overdue"], r["near"], r["visits_due"]]
                    for r in board.workload
                ],
            ),
            Sheet(
                _("催办记录"),
                [_("时间"), _("工单编号"), _("标题"), _("催办人"), _("处理人"), _("说明")],
                [
                    [
                        f"{timezone.localtime(r['created_at']):%Y-%m-%d %H:%M}",
                        r["ticket__number"],
                        r["ticket__title"],
                        r["actor__real_name"] or "",
                        r["ticket__assignee__real_name"] or "",
                        r["note"],
                    ]
                    for r in board.urges
                ],
            ),
            Sheet(
                _("满意度"),
                [
                    _("分组"),
                    _("名称"),
                    _("满意率(%)"),
                    _("已回访"),
                    *(str(label) for label in ReturnVisit.Result.labels),
                    *(str(label) for _channel, label in CHANNEL_CHOICES),
                ],
                _satisfaction_rows(board),
            ),
        ]
    )
