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
- A duplicate arriving while the first is still running: 409 at once, with
  `{"detail": ..., "code": "idempotency_in_progress"}` and `Retry-After`; it
  never waits for the first (a bulk upsert may run for seconds, and a waiting
  request holds a web worker). The running request holds a transaction-scoped
  advisory lock on (user, key) on PostgreSQL, taken with
  `pg_try_advisory_xact_lock` before the key row is inserted, so the
  duplicate learns "in flight" without touching the uncommitted row (whose
  unique index would make it wait). The lock ends with the transaction, also
  when the process dies, so a retry after a crash runs as if it were first.
  SQLite lets one writer in at a time: there the duplicate waits for the
  first (the embedded mode, a single process, not a production setup).
- The same key with a different method, path or body: 422 (once the first has
  finished; while it runs, 409 as above).
- Only successful (2xx) responses are stored. An error response leaves no
  row behind (its transaction rolled back, nothing was applied), so a retry
  under the same key runs again.
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api.exceptions import IdempotencyKeyReused
from core.models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("Location",)
# Seconds a client is told to wait before retrying a request still in flight.
IN_PROGRESS_RETRY_AFTER = 2


class IdempotencyInProgress(exceptions.APIException):
    """The first request under this key is still running: retry after `Retry-After` seconds."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_progress"

    def __init__(self):
        super().__init__(
            {"detail": _("使用该幂等键的请求正在处理中，请稍后重试。"), "code": self.default_code}
        )
        # DRF's exception handler turns `wait` into the Retry-After header.
        self.wait = IN_PROGRESS_RETRY_AFTER


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


def _lock_id(user_id: int, key: str) -> int:
    """A signed 64-bit number for (user, key): the advisory lock's id."""
    digest = hashlib.blake2b(f"idempotency:{user_id}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _claim(user_id: int, key: str) -> bool:
    """Hold (user, key) until the current transaction ends; False when another transaction holds it.

    Never waits. Outside PostgreSQL there is nothing to claim (SQLite runs one writer at a time).
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_id(user_id, key)])
        return bool(cursor.fetchone()[0])


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
        if not _claim(request.user.pk, key):
            raise IdempotencyInProgress()
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
