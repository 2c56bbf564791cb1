"""`Idempotency-Key`: a retried POST gets the first response instead of being applied twice.

A client that may retry (a timeout, a lost connection) sends a key of its own
choosing, 1–255 printable ASCII characters, unique per request it means. Keys
are kept per user (crm.IdempotentRequest).

How it works: the request runs in one transaction that first inserts the key
row and, at the end, stores the response in it. The row and the work commit
together or not at all, so a request is never "applied but forgotten".

- Retry after the first request finished: the insert hits the unique
  constraint (user, key); the stored status and body are returned with
  `Idempotent-Replayed: true`, and nothing is applied again.
- Two identical requests racing: the second one's insert waits on the first
  one's uncommitted row (PostgreSQL's unique index; SQLite lets one writer in
  at a time). When the first commits, the second returns its stored response;
  if the first failed and rolled back, the second runs as if it were first.
  So the loser waits, for as long as the first request takes, rather than
  answering 409.
- The same key with a different method, path or body: 422.
- Only successful (2xx) responses are stored. An error response leaves no
  row behind (its transaction rolled back, nothing was applied), so a retry
  under the same key runs again.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api.exceptions import IdempotencyKeyReused
from core.models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location",)


def _key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise exceptions.ValidationError({HEADER: [_("幂等键必须是1到255个可打印的ASCII字符。")]})
    return key


def fingerprint(request) -> str:
    payload = json.dumps(
        [request.method, request.path, request.data], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _replay(stored: IdempotentRequest) -> Response:
    headers = {**stored.response_headers, REPLAYED_HEADER: "true"}
    return Response(stored.response_body, status=stored.status_code, headers=headers)


def respond_idempotently(request, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per (user, Idempotency-Key); without the header, just run it."""
    key = _key(request)
    if key is None:
        return handler()
    request_fingerprint = fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotentRequest.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path[:255],
                    fingerprint=request_fingerprint,
                    status_code=0,
                )
        except IntegrityError:
            stored = IdempotentRequest.objects.get(user=request.user, key=key)
            if stored.fingerprint != request_fingerprint:
                raise IdempotencyKeyReused() from None
            return _replay(stored)
        response = handler()
        if not status.is_success(response.status_code):
            transaction.set_rollback(True)
            return response
        record.status_code = response.status_code
        # Stored as the client saw it: rendered to JSON and read back.
        record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
        record.response_headers = {name: response[name] for name in STORED_HEADERS if name in response}
        record.save(update_fields=["status_code", "response_body", "response_headers"])
    return response


class IdempotentCreateMixin:
    """A ModelViewSet's create honours Idempotency-Key."""

    def create(self, request, *args, **kwargs):
        parent_create = super().create
        return respond_idempotently(request, lambda: parent_create(request, *args, **kwargs))
