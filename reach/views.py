from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reach import selectors, services
from reach.models import CallState, ReachRecord


@login_required
def call_list(request):
    """电话通知: the customers the user must phone (a supervisor: those of their units)."""
    show_all = request.GET.get("all") == "1"
    return render(
        request,
        "reach/calls.html",
        {"calls": selectors.call_list(user=request.user, open_only=not show_all), "show_all": show_all},
    )


@login_required
@require_POST
def call_record(request, pk: int, outcome: str):
    """One tap: 已告知 / 未接通 / 号码错误."""
    record = get_object_or_404(ReachRecord.objects.calls_for(request.user), pk=pk)
    try:
        services.reach_call_record(record=record, by=request.user, outcome=outcome)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(
            request,
            _("已记录：%(customer)s · %(outcome)s")
            % {"customer": record.customer.name, "outcome": CallState(outcome).label},
        )
    return redirect("reach:calls")
