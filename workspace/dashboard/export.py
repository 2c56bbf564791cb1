"""The dashboard's figures and tables as an .xlsx workbook."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from core.xlsx import Sheet, workbook_bytes
from workspace.dashboard.presentation import Dashboard


def export_filename(board: Dashboard) -> str:
    return f"dashboard-{timezone.localtime(board.computed_at):%Y%m%d-%H%M}.xlsx"


def dashboard_workbook(board: Dashboard) -> bytes:
    """One sheet each: the figures, the overdue orders, the workload, the urges, the satisfaction."""
    computed = timezone.localtime(board.computed_at)
    figures = [[f.label, f.value if f.value is not None else "", f.unit, f.note] for f in board.figures]
    figures += [[], [_("统计期间"), board.period.label], [_("数据时间"), f"{computed:%Y-%m-%d %H:%M:%S}"]]
    satisfaction = board.charts["satisfaction"]
    return workbook_bytes(
        [
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
                [_("分组"), _("满意率(%)"), _("已回访")],
                [
                    [label, rate if rate is not None else "", n]
                    for part in ("segment", "unit")
                    for label, rate, n in zip(
                        satisfaction[part]["labels"],
                        satisfaction[part]["data"],
                        satisfaction[part]["counts"],
                        strict=True,
                    )
                ],
            ),
        ]
    )
