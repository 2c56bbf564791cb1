"""Publishing to the Celery broker from a web request."""


def publish_once(task, *args) -> None:
    """Send `task` with one try at reaching the broker; raises if it cannot.

    By default kombu keeps retrying a dead broker for broker_connection_timeout
    even with retry=False, and the web request that asked waits that long.
    Callers catch the error: what they asked for also happens without it (the
    periodic scan, the next page view).
    """
    with task.app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=0)
        task.apply_async(args=args, retry=False, producer=producer)
