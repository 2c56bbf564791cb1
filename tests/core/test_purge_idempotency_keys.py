from datetime import timedelta

import time_machine
from django.utils import timezone

from core.models import IdempotentRequest
from core.tasks import purge_idempotency_keys


def make(user, key: str) -> IdempotentRequest:
    return IdempotentRequest.objects.create(
        user=user,
        key=key,
        method="POST",
        path="/api/v1/customers/bulk/",
        fingerprint="0" * 64,
        status_code=200,
    )


def test_stored_responses_older_than_a_day_are_forgotten(manager):
    with time_machine.travel(timezone.now() - timedelta(hours=25)):
        make(manager, "old")
    with time_machine.travel(timezone.now() - timedelta(hours=23)):
        make(manager, "recent")
    assert purge_idempotency_keys() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["recent"]
    assert purge_idempotency_keys() == 0
