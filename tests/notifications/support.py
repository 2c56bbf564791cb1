"""Helpers shared by the outbox tests."""

from contextlib import contextmanager

from crm.celery import app as celery_app


@contextmanager
def celery_broker(url: str):
    """Point the Celery app at another broker for a while, with fresh connection pools."""

    def reset_pools():
        # Drop the app's references only: kombu shares pools per broker URL
        # process-wide, so closing one here would break the next user of that URL.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url
    reset_pools()
    celery_app.conf.broker_url = url
    try:
        yield celery_app
    finally:
        reset_pools()
        celery_app.conf.broker_url = previous
