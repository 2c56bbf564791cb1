from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.models import IdempotentRequest
from core.retry import RETRY_TRANSIENT


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=120, time_limit=150)
def purge_idempotency_keys() -> int:
    """Hourly: forget stored API responses older than IDEMPOTENCY_KEY_TTL_HOURS.

    A client retries within minutes; a day's window is generous. Deleting by
    the indexed created_at is one statement.
    """
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
