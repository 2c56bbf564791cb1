"""The callback URL WeCom calls: checked, stored, answered at once (wecom/services.py)."""

import logging

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from wecom.services import CallbackRejected, callback_receive, callback_verify_url

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request):
    try:
        if request.method == "GET":
            return HttpResponse(callback_verify_url(request.GET), content_type="text/plain; charset=utf-8")
        callback_receive(request.GET, request.body)
    except CallbackRejected as exc:
        logger.warning("WeCom callback refused (%s): %s", exc.status, exc.reason)
        return HttpResponse(exc.reason, status=exc.status, content_type="text/plain; charset=utf-8")
    # WeCom takes "success" (or an empty body) as "received, do not retry".
    return HttpResponse("success", content_type="text/plain; charset=utf-8")
