from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.scoping import get_visible_or_404
from core.forms import report_refusal
from core.xlsx import CONTENT_TYPE as XLSX_CONTENT_TYPE
from core.xlsx import Sheet, workbook_file
from customers.models import Customer
from outages import selectors, services
from outages.forms import EstimateForm, OutageCreateForm
from outages.models import OutageKind


@login_required
def outage_list(request):
    return render(request, "outages/list.html", selectors.outage_lists(request.user))


@login_required
@require_http_methods(["GET", "POST"])
def outage_create(request):
    form = OutageCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            outage = services.outage_create(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            messages.success(request, _("停电已登记，请核对影响范围后发布。"))
            return redirect("outages:detail", pk=outage.pk)
    chosen_lines = {str(v) for v in form["lines"].value() or []}
    chosen_districts = {str(v) for v in form["districts"].value() or []}
    return render(
        request,
        "outages/create.html",
        {
            "form": form,
            "stations": selectors.scope_choices(request.user),
            "chosen_lines": chosen_lines,
            "chosen_districts": chosen_districts,
        },
    )


@login_required
def outage_detail(request, pk: int):
    outage = selectors.outage_for(user=request.user, pk=pk)
    impact = services.outage_impact(outage)
    notices = selectors.notice_figures(outage)
    reach = selectors.reach_of(
        outage, notices, notice_id=request.GET.get("notice"), affected=impact.customers
    )
    return render(
        request,
        "outages/detail.html",
        {
            "outage": outage,
            "impact": impact,
            "reach": reach,
            "notices": notices,
            "sensitive": selectors.sensitive_affected(outage),
            "visits": selectors.outage_visits(outage),
            "complaints": selectors.outage_complaints(user=request.user, outage=outage),
            "lines": list(outage.lines.all()),
            "districts": list(outage.districts.all()),
            "estimate_form": EstimateForm(initial={"estimated_restoration": outage.estimated_restoration}),
            "is_fault": outage.kind != OutageKind.PLANNED,
        },
    )


@login_required
@require_POST
def outage_action(request, pk: int, action: str):
    outage = selectors.outage_for(user=request.user, pk=pk)
    done = {
        "publish": _("停电已发布，通知将按计划发送。"),
        "start": _("已登记停电开始。"),
        "restore": _("已恢复送电，恢复通知将发送给受影响客户。"),
        "cancel": _("停电已取消。"),
        "estimate": _("预计恢复时间已更新。"),
    }
    if action not in done:
        raise Http404
    try:
        if action == "estimate":
            form = EstimateForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("请填写有效的预计恢复时间。"))
            services.outage_update_estimate(
                outage=outage,
                estimated_restoration=form.cleaned_data["estimated_restoration"],
                by=request.user,
            )
        else:
            step = {
                "publish": services.outage_publish,
                "start": services.outage_start,
                "restore": services.outage_restore,
                "cancel": services.outage_cancel,
            }[action]
            step(outage=outage, by=request.user)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, done[action])
    return redirect("outages:detail", pk=outage.pk)


@login_required
def customer_panel(request, number: str):
    """The 360 page's panel: outages that affected the customer (fetched after the page)."""
    customer = get_visible_or_404(Customer.objects.all(), request.user, number=number)
    outages = selectors.customer_outages(user=request.user, customer=customer)
    return render(request, "outages/_customer_outages.html", {"outages": outages})


def _reach_filters(request) -> dict:
    notice = request.GET.get("notice", "")
    return {
        "notice_id": int(notice) if notice.isdigit() else None,
        "channel": request.GET.get("channel", ""),
        "state": request.GET.get("state", ""),
    }


@login_required
def outage_reach(request, pk: int):
    """The customers behind a figure of the reach card (filter by channel and state)."""
    outage = selectors.outage_for(user=request.user, pk=pk)
    filters = _reach_filters(request)
    notice, records = selectors.reach_customers(outage=outage, **filters)
    return render(
        request,
        "outages/reach.html",
        {"outage": outage, "notice": notice, "records": records, "filters": filters},
    )


@login_required
def outage_reach_export(request, pk: int):
    outage = selectors.outage_for(user=request.user, pk=pk)
    notice, records = selectors.reach_customers(outage=outage, **_reach_filters(request))
    header = [
        _("户号"),
        _("客户"),
        _("通知"),
        _("渠道"),
        _("状态"),
        _("原因"),
        _("原渠道"),
        _("电话通知"),
        _("时间"),
    ]
    rows = (
        [
            record.customer.number,
            record.customer.name,
            notice.kind_label,
            record.get_channel_display(),
            record.state_label,
            record.get_reason_display(),
            record.get_fallback_from_display(),
            record.get_call_state_display() if record.call_state else "",
            record.state_changed_at,
        ]
        for record in records
    )
    workbook = workbook_file([Sheet(_("触达明细"), header, rows)])
    filename = f"{_('触达明细')}-{outage.pk}-{timezone.localdate():%Y%m%d}.xlsx"
    return FileResponse(workbook, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
