"""The operations page (administrators), its JSON at /healthz/ops and /metrics (Prometheus)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from workspace.ops.metrics import metrics_text
from workspace.ops.snapshot import ops_snapshot, snapshot_json


def is_operator(user) -> bool:
    """Administrators only: superusers and users of the administrator role."""
    return bool(user.is_authenticated and user.is_active and user.is_administrator)


def _bearer_matches(request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def _machine_allowed(request) -> bool:
    """A monitoring system: the metrics token, or an address on the allow-list."""
    if _bearer_matches(request, settings.METRICS_TOKEN):
        return True
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


@never_cache
@login_required
@require_GET
def ops_page(request):
    if not is_operator(request.user):
        raise Http404
    snapshot = ops_snapshot()
    return render(request, "workspace/ops.html", {"ops": snapshot, "json": snapshot_json(snapshot)})


@never_cache
@require_GET
def ops_health(request):
    """The page's figures as JSON, for an administrator or a monitoring system; 404 to anyone else,
    so an anonymous probe learns nothing. 503 while an incident is open."""
    if not (is_operator(request.user) or _machine_allowed(request)):
        raise Http404
    data = snapshot_json(ops_snapshot())
    return JsonResponse(data, status=503 if data["incidents"] else 200)


@never_cache
@require_GET
def metrics(request):
    if not _machine_allowed(request):
        raise Http404
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
