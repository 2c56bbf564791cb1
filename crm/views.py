import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from crm.celery import app as celery_app

logger = logging.getLogger(__name__)


@login_required
def home(request):
    return redirect("customers:list")


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
