"""gunicorn's settings, read from the working directory by every `gunicorn` run
(the image, docker-compose, the load test); flags on the command line win.

One thread per worker process by default: on the 2-core machine of the load
test (docs/RELIABILITY.md), four threads per process raised every page's p95
(more requests competing for the same cores); GUNICORN_THREADS > 1 switches
to gunicorn's threaded worker where cores are plenty and requests mostly wait.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
# An import of a 100,000-row archive or a year's export may take a while; the
# proxy in front has its own limit.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
# The web processes borrow PostgreSQL connections from a pool, one per thread at
# most (crm/settings.py, DB_POOL); DB_POOL=0 in the environment keeps persistent
# connections instead. The workers load the app after the fork: a pool per process.
os.environ.setdefault("DB_POOL", "1")
os.environ.setdefault("DB_POOL_MAX_SIZE", str(threads))
accesslog = "-"
