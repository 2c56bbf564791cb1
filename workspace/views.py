import logging
from urllib.parse import urlencode

from celery import current_app as celery_app
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.htmx import is_htmx
from core.xlsx import CONTENT_TYPE as XLSX_CONTENT_TYPE
from customers import selectors as customer_selectors
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.satisfaction import DEFINITION as SATISFACTION_DEFINITION
from workspace import timeline, workbench
from workspace.dashboard.access import can_view_dashboard
from workspace.dashboard.cache import DASHBOARD_CACHE_SECONDS, dashboard_for
from workspace.dashboard.export import dashboard_workbook, export_filename
from workspace.dashboard.periods import PERIODS, period_from

logger = logging.getLogger(__name__)


# --- The account manager's workbench --------------------------------------------------

SECTIONS = {
    "orders": "workspace/workbench/_orders.html",
    "schedule": "workspace/workbench/_schedule.html",
    "visits": "workspace/workbench/_visits.html",
    "groups": "workspace/workbench/_groups.html",
    "customers": "workspace/workbench/_customers.html",
    "notifications": "workspace/workbench/_notifications.html",
    "outages": "workspace/workbench/_outages.html",
    "calls": "workspace/workbench/_calls.html",
}


def _section_context(user, name: str, now) -> dict:
    if name == "orders":
        return {"orders": workbench.my_orders(user=user, now=now)}
    if name == "schedule":
        site_visits, follow_ups = workbench.my_schedule(user=user, now=now)
        return {"site_visits": site_visits, "follow_ups": follow_ups}
    if name == "visits":
        return {
            "visits": workbench.my_return_visits(user=user, now=now),
            "promises": workbench.my_promises(user=user, now=now),
        }
    if name == "groups":
        inquiries, zombies = workbench.my_groups(user=user, now=now)
        return {"inquiries": inquiries, "zombies": zombies}
    if name == "customers":
        return {"stale_customers": workbench.my_stale_customers(user=user)}
    if name == "outages":
        return {"outages": workbench.my_outages(user=user, now=now)}
    if name == "calls":
        return {"calls": workbench.my_calls(user=user)}
    return {"inbox": workbench.my_notifications(user=user)}


@login_required
@require_GET
def home(request):
    """The workbench of an account manager; supervisors and administrators watch the dashboard."""
    if can_view_dashboard(request.user):
        return redirect("dashboard")
    now = timezone.now()
    context = {"now": now}
    for name in SECTIONS:
        context.update(_section_context(request.user, name, now))
    # The inbox section counted the unread already: the header shows the same count.
    request.unread_notifications = context["inbox"].counts["total"]
    return render(request, "workspace/workbench.html", context)


@login_required
@require_GET
def workbench_section(request, section: str):
    """One section of the workbench, for its periodic refresh (htmx)."""
    if section not in SECTIONS:
        return HttpResponse(status=404)
    context = _section_context(request.user, section, timezone.now())
    return render(request, SECTIONS[section], context)


@login_required
@require_POST
def workbench_sign(request, number: str):
    """签收 in one click; the orders section comes back refreshed (htmx) or the workbench reloads."""
    ticket = ticket_selectors.ticket_for_action(user=request.user, number=number)
    error = ""
    try:
        ticket_services.ticket_sign(ticket=ticket, by=request.user)
    except PermissionDenied as exc:
        error = str(exc) or _("您无权执行该操作。")
    except ValidationError as exc:
        error = "；".join(exc.messages)
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("已签收工单 %(number)s。") % {"number": ticket.number})
        return redirect("home")
    context = _section_context(request.user, "orders", timezone.now())
    context["sign_error"] = error
    context["signed_number"] = "" if error else ticket.number
    return render(request, SECTIONS["orders"], context, status=200)


# --- The supervisor's dashboard -------------------------------------------------------


def _dashboard_or_403(request):
    if not can_view_dashboard(request.user):
        raise PermissionDenied(_("监控看板仅向主管和系统管理员开放。"))
    period, error = period_from(request.GET)
    return dashboard_for(user=request.user, period=period), error


@login_required
@require_GET
def dashboard(request):
    data, error = _dashboard_or_403(request)
    if error:
        messages.error(request, error)
    context = {
        "board": data,
        "periods": PERIODS,
        "period_error": error,
        "cache_seconds": DASHBOARD_CACHE_SECONDS,
        "satisfaction_definition": SATISFACTION_DEFINITION,
    }
    return render(request, "workspace/dashboard.html", context)


@login_required
@require_GET
def dashboard_export(request):
    """The figures and tables as an .xlsx workbook."""
    data, _error = _dashboard_or_403(request)
    response = HttpResponse(dashboard_workbook(data), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(data)}"'
    return response


@login_required
@require_GET
def search(request):
    """The header's search box: a work-order number the user may see opens
    that order; anything else searches the customer archive."""
    query = request.GET.get("q", "").strip()
    if query.upper().startswith("GD"):
        number = query.upper()
        if Ticket.objects.visible_to(request.user).filter(number=number).exists():
            return redirect("tickets:detail", number)
    return redirect(f"{reverse('customers:list')}?{urlencode({'q': query})}" if query else "customers:list")


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down" to a probe
        logger.warning("healthz: database unreachable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


def _broker_state() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        logger.warning("healthz: broker unreachable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    """Liveness for load balancers: the database decides the status code; a
    broker outage is reported but not fatal, because the outbox waits for it."""
    state = {"database": _database_state(), "broker": _broker_state()}
    status = 200 if state["database"] == "ok" else 503
    state["status"] = "ok" if status == 200 else "unavailable"
    return JsonResponse(state, status=status)


# --- Customer 360 ------------------------------------------------------------------------


@login_required
@require_GET
def customer_timeline(request, number: str):
    """The 360 page's timeline panel (and its further pages), newest first."""
    customer = customer_selectors.customer_row(user=request.user, number=number)
    page = timeline.customer_timeline(user=request.user, customer=customer, cursor=request.GET.get("cursor"))
    return render(
        request,
        "workspace/customer/_timeline.html",
        {"customer": customer, "page": page, "more": bool(request.GET.get("cursor"))},
    )
