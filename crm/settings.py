"""Settings for the CRM, read from the environment (see .env.example).

Two ways to run from one file:
- embedded default: SQLite and Celery's filesystem transport under ./var,
  no servers needed, DEBUG on;
- production / CI: DATABASE_URL and REDIS_URL (or CELERY_BROKER_URL) point at
  PostgreSQL and Redis; DEBUG=0 switches on the HTTPS hardening below.
"""

import re
from datetime import time, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy
from whitenoise.compress import Compressor

from core.client import parse_trusted_proxies
from core.env import env_bool, env_choice, env_daily_window, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CRM_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-embedded-default-only-for-local-development"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    # Swagger UI and ReDoc served from our static files, not a CDN (intranets).
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "axes",
    "csp",
    "core",
    "crm",
    "accounts",
    "wecom",
    "notifications",
    "customers",
    "groups",
    "reach",
    "tickets",
    "outages",
    "workspace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # API only: gzip for token-signed answers, list ETags, rate-limit fields (core/middleware.py).
    "core.middleware.TokenApiGZipMiddleware",
    "core.middleware.ApiHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.PrivateNoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# Selects and inputs written in Python, exactly as Django's widget templates write them.
FORM_RENDERER = "core.form_renderer.WidgetRenderer"

# --- Database -------------------------------------------------------------
_sqlite_default = f"sqlite:///{VAR_DIR / 'crm.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _sqlite_default),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: wait for locks
    # instead of failing, and let readers run beside the single writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: the page queries run in milliseconds, but a plan whose
    # estimate is large (a never-run subquery over a million customers) paid
    # 30 ms of compiling before it ran (docs/RELIABILITY.md, Load).
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
    # DB_POOL (gunicorn.conf.py turns it on for the web processes): one psycopg pool per
    # process, its threads borrowing a connection per request, checked before it is lent
    # (CONN_HEALTH_CHECKS). A pool replaces persistent connections, so CONN_MAX_AGE is 0;
    # Celery workers leave DB_POOL off and keep one connection each, checked per task.
    if env_bool("DB_POOL", False):
        _pool_min, _pool_max = env_int("DB_POOL_MIN_SIZE", 1), env_int("DB_POOL_MAX_SIZE", 4)
        if not 1 <= _pool_min <= _pool_max:
            raise ImproperlyConfigured("DB_POOL_MIN_SIZE and DB_POOL_MAX_SIZE: need 1 <= min <= max")
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": _pool_min,
            "max_size": _pool_max,
            # Seconds a request waits for a free connection before it fails.
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Cache ------------------------------------------------------------------
# Shared by the web processes and the workers (core/cache.py): the dashboard's
# figures and the API's throttle counters. CACHE_URL names it, database
# included. Without it, Redis on REDIS_URL's server in the database after
# REDIS_URL's own (redis://host:6379/0 gives /1, /4 gives /5): never the
# broker's, so clearing the cache never touches the queues; installs sharing
# one Redis each take a pair of databases (/0 and /1, /2 and /3, ...) or set
# CACHE_URL. Without REDIS_URL either, files under var/cache.
def _database_after(redis_url: str) -> str:
    """redis_url with the next database number, in the path or in ?db= (unix sockets)."""
    parts = urlsplit(redis_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    in_query = parts.scheme == "unix" or any(key == "db" for key, _value in query)
    number = (dict(query).get("db") if in_query else parts.path.strip("/")) or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL must name its database by number, got {redis_url!r}")
    following = str(int(number) + 1)
    if in_query:
        query = [(key, value) for key, value in query if key != "db"] + [("db", following)]
        return f"{redis_url.partition('?')[0]}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{following}"))


_redis_url = env_str("REDIS_URL")
CACHE_URL = env_str("CACHE_URL") or (_database_after(_redis_url) if _redis_url else "")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.TolerantRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "crm",
            # A cache that does not answer at once is treated as missing.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            # Django's file cache with an atomic incr (the API throttle counts with it).
            "BACKEND": "core.cache.LockedFileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out username+address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time: Chinese first --------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Source maps (6 MB of them come with the API docs' Swagger UI and ReDoc) are for
# developers' tools, not for pages: served as they are, not compressed at collectstatic.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# A list filter left empty means "any" (django-filter's default label is "---------").
FILTERS_EMPTY_CHOICE_LABEL = gettext_lazy("全部")

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in, then only the query parameters the operation documents (core/api/query.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.query.KnownFormatNegotiation",
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.query.KnownQueryParameters",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.filters.FilterBackend",
        "core.api.filters.OrderingFilter",
    ],
    # JSON only, with a depth limit and no lone surrogates (core/api/parsers.py): a form or
    # multipart body is a 415. No API operation takes an upload; one that does would name
    # MultiPartParser in its own parser_classes.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.exceptions.api_exception_handler",
    # Request histories live in the default cache, the shared one above, so
    # every web process counts against the same limit; should that cache
    # fail, requests pass rather than fail (core/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON_RATE", "60/min"),
        "user": env_str("API_THROTTLE_USER_RATE", "1200/min"),
    },
}
for _scope, _rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].items():
    if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(f"API throttle rate for {_scope} must look like 60/min, got {_rate!r}")
# Rows per page of API lists (?limit= up to 1,000) and of the sync feed.
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
API_SYNC_PAGE_SIZE = env_int("API_SYNC_PAGE_SIZE", 1000)
if not (1 <= API_PAGE_SIZE <= 1000 and 1 <= API_SYNC_PAGE_SIZE <= 1000):
    raise ImproperlyConfigured("API_PAGE_SIZE and API_SYNC_PAGE_SIZE must be between 1 and 1000")
SPECTACULAR_SETTINGS = {
    # ASCII: code generators make the client's package name of it.
    "TITLE": "Grid CRM API",
    "DESCRIPTION": "供电客户经理 CRM 的 REST API。Conventions (filters, ordering, errors, ETags, "
    "rate limits, limits, enums): docs/API.md.",
    "VERSION": "1.0.0",
    # 3.1 (JSON Schema 2020-12): `const` tells the sync feed's two row shapes apart.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Operations are tagged and named by resource ("customers_list"), not by "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Choice sets that share a field name get names of their own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "TicketKindEnum": "tickets.models.Kind",
        "TicketStatusEnum": "tickets.models.Status",
        "CustomerKindEnum": "customers.models.Customer.Kind",
        "OutageKindEnum": "outages.models.OutageKind",
        "OutageStatusEnum": "outages.models.OutageStatus",
        "GroupKindEnum": "groups.models.GroupKind",
        "ResolutionKindEnum": "tickets.models.Ticket.ResolutionKind",
    },
    # The API is JSON: form encodings would parse a malformed body as an empty one.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.tighten_schema",
        "core.api.schema.document_enums",
        "core.api.schema.document_token_auth",
        "crm.schema_links.add_links",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# /api/schema/, /api/docs/ and /api/redoc/ for anyone (true) or for signed-in users
# and token holders only (false, the default: the schema maps every operation).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", False)

# Stored responses of requests sent with an Idempotency-Key are kept this long.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)

# --- Celery ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Server-less transport for the embedded default: messages are files in var/.
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"
    for _dir in (_queue_dir, _processed_dir, _control_dir):
        _dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
else:
    # Short timeouts so that a dead broker never hangs a web request that
    # only wanted to kick a task after commit (the outbox row waits anyway).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240

# --- Queues by urgency and the night watch (operations) ---------------------------
# Two queues, so that a large import never delays a reminder: `realtime` carries
# reminders, delivery, the SLA scan and WeCom callbacks; `bulk` carries imports,
# exports, fan-outs, reconciles, archive pulls and refreshes. Each has workers of
# its own (scripts/run.sh, docker-compose.yml). Every task of the project is named
# here (tests/crm/test_task_routes.py); one that is not goes to `realtime`.
REALTIME_QUEUE = "realtime"
BULK_QUEUE = "bulk"
CELERY_TASK_DEFAULT_QUEUE = REALTIME_QUEUE
_QUEUE_OF_TASK = {
    REALTIME_QUEUE: (
        "notifications.tasks.deliver_due_notifications",
        "notifications.tasks.send_digests",
        "tickets.tasks.sla_scan",
        "tickets.tasks.return_visit_scan",
        "tickets.tasks.promise_scan",
        "groups.tasks.inquiry_reminder_scan",
        "outages.tasks.long_outage_scan",
        "wecom.tasks.process_callback_event",
        "wecom.tasks.process_pending_callbacks",
    ),
    BULK_QUEUE: (
        "customers.tasks.validate_import",
        "customers.tasks.write_import",
        "customers.tasks.write_export",
        "customers.tasks.sweep_exports",
        "customers.tasks.remind_stale_archives",
        "customers.tasks.schedule_routine_visits",
        "outages.tasks.fan_out_notices",
        "reach.tasks.refresh_reach",
        "groups.tasks.publish_due_broadcasts",
        "groups.tasks.create_group_post_tasks",
        "groups.tasks.poll_group_posts",
        "groups.tasks.pull_chat_archive",
        "groups.tasks.reconcile_wecom_groups",
        "groups.tasks.refresh_group_health",
        "groups.tasks.zombie_scan",
        "reach.tasks.send_personal_posts",
        "workspace.tasks.refresh_dashboard",
        "workspace.tasks.warm_dashboards",
        "core.tasks.purge_idempotency_keys",
    ),
}
CELERY_TASK_ROUTES = {task: {"queue": queue} for queue, tasks in _QUEUE_OF_TASK.items() for task in tasks}
# The watchdog (workspace/ops/watchdog.py) runs inside the beat process, not on a
# queue, so a stuck worker cannot silence it. It raises an incident when the SLA
# scan or delivery has not completed for *_STALE_MINUTES, when a periodic task
# failed OPS_TASK_FAILURE_THRESHOLD times in a row, or when the outbox has more
# than OPS_OUTBOX_DUE_THRESHOLD rows due, one due for more than
# OPS_OUTBOX_OLDEST_DUE_MINUTES, or more than OPS_OUTBOX_FAILED_THRESHOLD failed
# within the last day; it tells the administrators (e-mail, WeCom app message,
# in-app) and the monitoring group (OPS_ALERT_WECOM_WEBHOOK_URL) once per incident.
OPS_WATCHDOG_SECONDS = env_int("OPS_WATCHDOG_SECONDS", 60)
OPS_SLA_SCAN_STALE_MINUTES = env_int("OPS_SLA_SCAN_STALE_MINUTES", 5)
OPS_DELIVERY_STALE_MINUTES = env_int("OPS_DELIVERY_STALE_MINUTES", 5)
OPS_TASK_FAILURE_THRESHOLD = env_int("OPS_TASK_FAILURE_THRESHOLD", 3)
OPS_OUTBOX_DUE_THRESHOLD = env_int("OPS_OUTBOX_DUE_THRESHOLD", 2000)
OPS_OUTBOX_OLDEST_DUE_MINUTES = env_int("OPS_OUTBOX_OLDEST_DUE_MINUTES", 15)
OPS_OUTBOX_FAILED_THRESHOLD = env_int("OPS_OUTBOX_FAILED_THRESHOLD", 100)
for _name in (
    "OPS_WATCHDOG_SECONDS",
    "OPS_SLA_SCAN_STALE_MINUTES",
    "OPS_DELIVERY_STALE_MINUTES",
    "OPS_TASK_FAILURE_THRESHOLD",
    "OPS_OUTBOX_DUE_THRESHOLD",
    "OPS_OUTBOX_OLDEST_DUE_MINUTES",
    "OPS_OUTBOX_FAILED_THRESHOLD",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")
# Extra addresses told of incidents besides the active superusers, and the WeCom
# group robot of the monitoring group.
OPS_ALERT_EMAILS = env_list("OPS_ALERT_EMAILS")
OPS_ALERT_WECOM_WEBHOOK_URL = env_str("OPS_ALERT_WECOM_WEBHOOK_URL")
# /metrics (Prometheus) answers a request bearing `Authorization: Bearer <METRICS_TOKEN>`
# or coming from an address in METRICS_ALLOWED_IPS (REMOTE_ADDR); with neither set, 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")
# The periodic tasks are rows of django-celery-beat's tables, edited in the
# admin (Periodic tasks). At each start beat creates the row of every entry
# below that has none and changes no existing row (crm/beat.py), so an
# administrator's change outlives restarts, and the *_SCAN_SECONDS and *_HOUR
# variables set the first schedule only. To stop a task, untick "enabled": a
# deleted entry is created again, with its default schedule, at the next start.
# Not CELERY_BEAT_SCHEDULE, which django-celery-beat's own scheduler writes over the rows.
CELERY_BEAT_SCHEDULER = "crm.beat:SeedingDatabaseScheduler"
BEAT_SCHEDULE_DEFAULTS = {
    "notifications-deliver-due": {
        "task": "notifications.tasks.deliver_due_notifications",
        "schedule": timedelta(seconds=env_int("NOTIFICATIONS_SCAN_SECONDS", 10)),
    },
    "notifications-send-digests": {
        "task": "notifications.tasks.send_digests",
        "schedule": timedelta(minutes=1),
    },
    "tickets-sla-scan": {
        "task": "tickets.tasks.sla_scan",
        "schedule": timedelta(seconds=env_int("TICKETS_SLA_SCAN_SECONDS", 60)),
    },
    "tickets-return-visit-scan": {
        "task": "tickets.tasks.return_visit_scan",
        "schedule": timedelta(minutes=5),
    },
    "tickets-promise-scan": {
        "task": "tickets.tasks.promise_scan",
        "schedule": timedelta(minutes=15),
    },
    "customers-sweep-exports": {
        "task": "customers.tasks.sweep_exports",
        "schedule": timedelta(minutes=1),
    },
    "crm-purge-idempotency-keys": {
        "task": "core.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    "customers-remind-stale-archives": {
        "task": "customers.tasks.remind_stale_archives",
        "schedule": crontab(hour=8, minute=30, day_of_week="mon"),
    },
    "customers-schedule-routine-visits": {
        "task": "customers.tasks.schedule_routine_visits",
        "schedule": crontab(hour=env_int("ROUTINE_VISIT_SCAN_HOUR", 7), minute=15),
    },
    "groups-inquiry-reminders": {
        "task": "groups.tasks.inquiry_reminder_scan",
        "schedule": timedelta(seconds=env_int("GROUPS_INQUIRY_SCAN_SECONDS", 120)),
    },
    "groups-publish-due-broadcasts": {
        "task": "groups.tasks.publish_due_broadcasts",
        "schedule": timedelta(seconds=env_int("GROUPS_BROADCAST_SCAN_SECONDS", 60)),
    },
    "outages-fan-out-notices": {
        "task": "outages.tasks.fan_out_notices",
        "schedule": timedelta(seconds=env_int("OUTAGE_NOTICE_SCAN_SECONDS", 60)),
    },
    "outages-long-outage-scan": {
        "task": "outages.tasks.long_outage_scan",
        "schedule": timedelta(minutes=5),
    },
    "reach-refresh": {
        "task": "reach.tasks.refresh_reach",
        "schedule": timedelta(seconds=env_int("REACH_REFRESH_SECONDS", 60)),
    },
    "workspace-warm-dashboards": {
        "task": "workspace.tasks.warm_dashboards",
        "schedule": timedelta(seconds=300),
    },
    "reach-wecom-one-to-one": {
        "task": "reach.tasks.send_personal_posts",
        "schedule": timedelta(seconds=env_int("WECOM_POST_POLL_SECONDS", 120)),
    },
    "groups-refresh-health": {
        "task": "groups.tasks.refresh_group_health",
        "schedule": timedelta(seconds=env_int("GROUPS_HEALTH_REFRESH_SECONDS", 300)),
    },
    "wecom-process-pending-callbacks": {
        "task": "wecom.tasks.process_pending_callbacks",
        "schedule": timedelta(seconds=env_int("WECOM_CALLBACK_SWEEP_SECONDS", 60)),
    },
    "groups-create-post-tasks": {
        "task": "groups.tasks.create_group_post_tasks",
        "schedule": timedelta(seconds=60),
    },
    "groups-poll-posts": {
        "task": "groups.tasks.poll_group_posts",
        "schedule": timedelta(seconds=env_int("WECOM_POST_POLL_SECONDS", 120)),
    },
    "groups-pull-chat-archive": {
        "task": "groups.tasks.pull_chat_archive",
        "schedule": timedelta(seconds=env_int("WECOM_ARCHIVE_PULL_SECONDS", 60)),
    },
    "groups-wecom-reconcile": {
        "task": "groups.tasks.reconcile_wecom_groups",
        "schedule": timedelta(minutes=env_int("WECOM_RECONCILE_MINUTES", 30)),
    },
    "groups-zombie-scan": {
        "task": "groups.tasks.zombie_scan",
        "schedule": crontab(hour=env_int("GROUPS_ZOMBIE_SCAN_HOUR", 9), minute=0),
    },
}

# --- Notifications ----------------------------------------------------------
NOTIFICATIONS_BATCH_SIZE = env_int("NOTIFICATIONS_BATCH_SIZE", 200)
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 5)
NOTIFICATIONS_RETRY_BASE_SECONDS = env_int("NOTIFICATIONS_RETRY_BASE_SECONDS", 30)
NOTIFICATIONS_LEASE_SECONDS = env_int("NOTIFICATIONS_LEASE_SECONDS", 300)
# Supervisors get the escalations of their units as one digest per this many
# minutes (特急 orders at once); see notifications/digests.py.
SUPERVISOR_DIGEST_MINUTES = env_int("SUPERVISOR_DIGEST_MINUTES", 15)
if not 1 <= SUPERVISOR_DIGEST_MINUTES <= 1440:
    raise ImproperlyConfigured("SUPERVISOR_DIGEST_MINUTES must be between 1 and 1440")
WECOM_WEBHOOK_URL = env_str("WECOM_WEBHOOK_URL")
# SMS: a generic HTTP gateway, Alibaba Cloud SMS or Tencent Cloud SMS (notifications/sms_providers.py).
SMS_PROVIDER = env_choice("SMS_PROVIDER", "gateway", ("gateway", "aliyun", "tencent"))
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN")
SMS_SIGN_NAME = env_str("SMS_SIGN_NAME")
ALIYUN_SMS_ACCESS_KEY_ID = env_str("ALIYUN_SMS_ACCESS_KEY_ID")
ALIYUN_SMS_ACCESS_KEY_SECRET = env_str("ALIYUN_SMS_ACCESS_KEY_SECRET")
ALIYUN_SMS_ENDPOINT = env_str("ALIYUN_SMS_ENDPOINT", "https://dysmsapi.aliyuncs.com/")
TENCENT_SMS_SECRET_ID = env_str("TENCENT_SMS_SECRET_ID")
TENCENT_SMS_SECRET_KEY = env_str("TENCENT_SMS_SECRET_KEY")
TENCENT_SMS_SDK_APP_ID = env_str("TENCENT_SMS_SDK_APP_ID")
TENCENT_SMS_REGION = env_str("TENCENT_SMS_REGION", "ap-guangzhou")
TENCENT_SMS_ENDPOINT = env_str("TENCENT_SMS_ENDPOINT", "https://sms.tencentcloudapi.com")
# Longest template variable Tencent accepts: 12 for personally verified
# accounts, no limit but the 500-character message for companies (0).
TENCENT_SMS_PARAM_MAX_LENGTH = env_int("TENCENT_SMS_PARAM_MAX_LENGTH", 0)
# The providers' delivery receipts (/notifications/sms/receipts/<provider>/)
# must carry this token; empty refuses every receipt.
SMS_RECEIPT_TOKEN = env_str("SMS_RECEIPT_TOKEN")
# Advance notices (quiet=True) due in this local window wait for its end; fault
# and restoration notices go at once. (start, end) or None; may cross midnight.
SMS_QUIET_HOURS = env_daily_window("SMS_QUIET_HOURS", "22:00-07:00")
OUTBOUND_HTTP_TIMEOUT = env_int("OUTBOUND_HTTP_TIMEOUT", 10)

# --- WeCom (企业微信) connection (wecom/) -------------------------------------------
# Unset WECOM_CORP_ID means "not configured": the status page says so, app
# messages are skipped, callbacks are refused; nothing else changes.
WECOM_CORP_ID = env_str("WECOM_CORP_ID")
WECOM_AGENT_ID = env_str("WECOM_AGENT_ID")
WECOM_AGENT_SECRET = env_str("WECOM_AGENT_SECRET")
WECOM_CONTACT_SECRET = env_str("WECOM_CONTACT_SECRET")
WECOM_CALLBACK_TOKEN = env_str("WECOM_CALLBACK_TOKEN")
WECOM_CALLBACK_AES_KEY = env_str("WECOM_CALLBACK_AES_KEY")
if WECOM_CALLBACK_AES_KEY and not re.fullmatch(r"[A-Za-z0-9]{43}", WECOM_CALLBACK_AES_KEY):
    raise ImproperlyConfigured("WECOM_CALLBACK_AES_KEY must be the 43-character EncodingAESKey")
if WECOM_AGENT_ID and not WECOM_AGENT_ID.isdigit():
    raise ImproperlyConfigured(f"WECOM_AGENT_ID must be a number, got {WECOM_AGENT_ID!r}")
WECOM_API_BASE = env_str("WECOM_API_BASE", "https://qyapi.weixin.qq.com/cgi-bin").rstrip("/")
WECOM_OAUTH_AUTHORIZE_URL = env_str(
    "WECOM_OAUTH_AUTHORIZE_URL", "https://open.weixin.qq.com/connect/oauth2/authorize"
)
# A callback whose timestamp is further than this from now is refused (replay guard).
WECOM_CALLBACK_MAX_AGE_SECONDS = env_int("WECOM_CALLBACK_MAX_AGE_SECONDS", 300)
# Customer groups (groups/services/wecom_sync.py): callbacks keep them in step;
# the reconcile reads again in full any group not read for this long.
WECOM_GROUP_RESYNC_HOURS = env_int("WECOM_GROUP_RESYNC_HOURS", 24)
# externalcontact/get calls per reconcile to match unlinked customers by remark_mobiles.
WECOM_REMARK_LOOKUPS_PER_RUN = env_int("WECOM_REMARK_LOOKUPS_PER_RUN", 200)
# Absolute links (WeCom app messages) are built on it; no trailing slash.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# 企业群发 to customer groups: how many a group may receive per calendar month
# (WeCom refuses the rest), when an owner who has not confirmed a task is
# reminded through WeCom (at most three times a day), and when the owner's
# supervisors are told.
WECOM_GROUP_MONTHLY_LIMIT = env_int("WECOM_GROUP_MONTHLY_LIMIT", 4)
WECOM_POST_REMIND_AFTER_MINUTES = env_int("WECOM_POST_REMIND_AFTER_MINUTES", 60)
WECOM_POST_ESCALATE_AFTER_MINUTES = env_int("WECOM_POST_ESCALATE_AFTER_MINUTES", 240)

EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")

# --- Customer archive --------------------------------------------------------
# An archive not verified within this many days is stale (seed 001 §1).
ARCHIVE_STALE_DAYS = env_int("ARCHIVE_STALE_DAYS", 365)
# A customer export of more rows than this is written by a worker (customers.exports),
# not while the browser waits; its file is kept this many hours for its creator. A job
# without progress for CUSTOMER_EXPORT_STALE_SECONDS is queued again.
CUSTOMER_EXPORT_INLINE_ROWS = env_int("CUSTOMER_EXPORT_INLINE_ROWS", 2000)
CUSTOMER_EXPORT_KEEP_HOURS = env_int("CUSTOMER_EXPORT_KEEP_HOURS", 24)
CUSTOMER_EXPORT_STALE_SECONDS = env_int("CUSTOMER_EXPORT_STALE_SECONDS", 300)
CUSTOMER_PAGE_SIZE = env_int("CUSTOMER_PAGE_SIZE", 50)
# Largest archive file accepted for import; a prefecture's 100,000-row .xlsx is about 8 MB.
CUSTOMER_IMPORT_MAX_MB = env_int("CUSTOMER_IMPORT_MAX_MB", 10)
# Most data rows an import file may hold, counted as the file streams by (the upload
# stops counting one row past it): bounds the work, since 10 MB of .xlsx can hold 700,000.
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 100_000)
if IMPORT_MAX_ROWS < 1:
    raise ImproperlyConfigured("IMPORT_MAX_ROWS must be at least 1")
# Sensitive customers without a visit or one-to-one contact for this many days get a routine visit planned.
ROUTINE_VISIT_DAYS = env_int("ROUTINE_VISIT_DAYS", 30)
if ROUTINE_VISIT_DAYS < 1:
    raise ImproperlyConfigured("ROUTINE_VISIT_DAYS must be at least 1")

# --- Outages ---------------------------------------------------------------------
# Days before a planned outage on which customers get an advance notice.
_advance_days = env_list("OUTAGE_ADVANCE_NOTICE_DAYS", ["7", "1"])
if not all(day.isdigit() and int(day) > 0 for day in _advance_days):
    raise ImproperlyConfigured("OUTAGE_ADVANCE_NOTICE_DAYS must be positive whole days, e.g. 7,1")
OUTAGE_ADVANCE_NOTICE_DAYS = sorted({int(day) for day in _advance_days}, reverse=True)
# A fault outage running this many hours sends the district's manager on site.
OUTAGE_LONG_HOURS = env_int("OUTAGE_LONG_HOURS", 4)
# A fan-out claim runs out after this many seconds; another worker then takes the notice over.
OUTAGE_NOTICE_LEASE_SECONDS = env_int("OUTAGE_NOTICE_LEASE_SECONDS", 600)
# Affected customers per fan-out transaction (each batch commits, so a killed worker loses one).
OUTAGE_FAN_OUT_BATCH_SIZE = env_int("OUTAGE_FAN_OUT_BATCH_SIZE", 5000)
# Batches of one notice written at once on PostgreSQL, each on a database connection of
# its own (the database does the work; 1 writes them one after the other).
OUTAGE_FAN_OUT_THREADS = env_int("OUTAGE_FAN_OUT_THREADS", 2)
if OUTAGE_FAN_OUT_THREADS < 1:
    raise ImproperlyConfigured("OUTAGE_FAN_OUT_THREADS must be at least 1")

# --- Reach (who was told what) ------------------------------------------------------
# A WeCom group post (or one-to-one send) the owner has not confirmed within this
# many minutes counts as not sent: its customers fall back to the next channel.
REACH_GROUP_POST_DEADLINE_MINUTES = env_int("REACH_GROUP_POST_DEADLINE_MINUTES", 60)
if REACH_GROUP_POST_DEADLINE_MINUTES < 1:
    raise ImproperlyConfigured("REACH_GROUP_POST_DEADLINE_MINUTES must be at least 1")

# --- Work orders ------------------------------------------------------------------
# A complaint by the same customer about the same category within this many
# days is flagged as a repeat complaint (重复投诉).
TICKET_REPEAT_WINDOW_DAYS = env_int("TICKET_REPEAT_WINDOW_DAYS", 30)
TICKET_PAGE_SIZE = env_int("TICKET_PAGE_SIZE", 50)
# The customer's own rating: how long the SMS link stays valid, and how many
# requests one address may make to the survey pages in a window.
TICKET_SURVEY_DAYS = env_int("TICKET_SURVEY_DAYS", 7)
TICKET_SURVEY_RATE_LIMIT = env_int("TICKET_SURVEY_RATE_LIMIT", 20)
TICKET_SURVEY_RATE_WINDOW_SECONDS = env_int("TICKET_SURVEY_RATE_WINDOW_SECONDS", 600)
# A reminder this many days before a promised date (服务承诺); an alert once the date has passed.
TICKET_PROMISE_REMIND_DAYS = env_int("TICKET_PROMISE_REMIND_DAYS", 1)
if TICKET_SURVEY_DAYS < 1 or TICKET_SURVEY_RATE_LIMIT < 1 or TICKET_PROMISE_REMIND_DAYS < 0:
    raise ImproperlyConfigured(
        "TICKET_SURVEY_DAYS and TICKET_SURVEY_RATE_LIMIT must be at least 1, "
        "TICKET_PROMISE_REMIND_DAYS 0 or more"
    )
# How far a transfer (转办) may reach: units within the sender's prefecture, or the whole province.
TICKET_TRANSFER_SCOPE = env_choice("TICKET_TRANSFER_SCOPE", "prefecture", ("prefecture", "province"))

# --- Service groups ----------------------------------------------------------------
# A customer's inquiry in a group is due GROUPS_RESPONSE_MINUTES after it is asked
# within GROUPS_BUSINESS_HOURS (local time, every day), and
# GROUPS_OFF_HOURS_RESPONSE_MINUTES after the hours next begin when asked outside
# them (see groups.health). The owner is reminded at the deadline, the nearest
# supervisors GROUPS_ESCALATE_AFTER_MINUTES after it.
GROUPS_RESPONSE_MINUTES = env_int("GROUPS_RESPONSE_MINUTES", 30)
GROUPS_OFF_HOURS_RESPONSE_MINUTES = env_int("GROUPS_OFF_HOURS_RESPONSE_MINUTES", 30)
GROUPS_BUSINESS_HOURS = env_str("GROUPS_BUSINESS_HOURS", "08:00-20:00")
_hours = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)", GROUPS_BUSINESS_HOURS.strip())
if not _hours or _hours.group(1, 2) >= _hours.group(3, 4):
    raise ImproperlyConfigured(
        f"GROUPS_BUSINESS_HOURS must look like 08:00-20:00 (start before end), got {GROUPS_BUSINESS_HOURS!r}"
    )
GROUPS_BUSINESS_START = time(int(_hours.group(1)), int(_hours.group(2)))
GROUPS_BUSINESS_END = time(int(_hours.group(3)), int(_hours.group(4)))
GROUPS_ESCALATE_AFTER_MINUTES = env_int("GROUPS_ESCALATE_AFTER_MINUTES", 60)
# A group is a zombie group (僵尸群) when an inquiry is overdue or its owner has
# not spoken in it for this many days; health figures cover GROUPS_HEALTH_DAYS.
GROUPS_ZOMBIE_SILENT_DAYS = env_int("GROUPS_ZOMBIE_SILENT_DAYS", 14)
GROUPS_HEALTH_DAYS = env_int("GROUPS_HEALTH_DAYS", 30)
# Seconds the supervisors' owner table on the group list is kept once computed (hundreds
# of owners at a prefecture's size); the table says when it was computed.
GROUPS_OWNER_TABLE_SECONDS = env_int("GROUPS_OWNER_TABLE_SECONDS", 60)
GROUPS_PAGE_SIZE = env_int("GROUPS_PAGE_SIZE", 50)
for _name in ("GROUPS_RESPONSE_MINUTES", "GROUPS_ESCALATE_AFTER_MINUTES", "GROUPS_ZOMBIE_SILENT_DAYS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")

# --- WeCom chat archive (会话内容存档) -----------------------------------------
# Group messages read from the archive (groups/archive): none (messages are
# recorded by hand or through the API), spool (JSON-lines files a separate SDK
# puller writes into WECOM_ARCHIVE_SPOOL_DIR) or sdk (WeCom's SDK in the worker,
# with the corporation id, the archive secret and the RSA private keys by
# public-key version, e.g. "1:/run/secrets/archive-v1.pem").
WECOM_ARCHIVE_SOURCE = env_choice("WECOM_ARCHIVE_SOURCE", "none", ("none", "spool", "sdk"))
WECOM_ARCHIVE_SPOOL_DIR = env_str("WECOM_ARCHIVE_SPOOL_DIR", str(VAR_DIR / "wecom-archive"))
WECOM_ARCHIVE_BATCH = env_int("WECOM_ARCHIVE_BATCH", 1000)
if not 1 <= WECOM_ARCHIVE_BATCH <= 1000:
    raise ImproperlyConfigured("WECOM_ARCHIVE_BATCH must be between 1 and 1000 (GetChatData's limit)")
WECOM_ARCHIVE_CORP_ID = env_str("WECOM_ARCHIVE_CORP_ID")
WECOM_ARCHIVE_SECRET = env_str("WECOM_ARCHIVE_SECRET")
WECOM_ARCHIVE_PRIVATE_KEYS = env_str("WECOM_ARCHIVE_PRIVATE_KEYS")

# --- Production hardening ----------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed over plain HTTP inside the deployment network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/ops$", r"^metrics$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp). Scripts only from our own static files:
# no inline <script> and no on* handlers (static/js/crm.js wires data-* attributes
# instead), so an injected script tag or attribute does not run. Styles keep
# 'unsafe-inline': progress bars carry server-computed widths in style="",
# htmx inserts its indicator <style>, and injected CSS cannot run code.
# Bootstrap draws its icons (toggler, select arrow, close button) as data: SVGs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for
# one username from one address, that pair is locked out for
# LOGIN_LOCKOUT_MINUTES, even with the right password; a success before the
# limit clears the count. Other users and addresses are not affected.
_login_failures = env_int("LOGIN_FAILURE_LIMIT", 5)
_login_lockout_minutes = env_int("LOGIN_LOCKOUT_MINUTES", 15)
if _login_failures < 1 or _login_lockout_minutes < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be at least 1")
AXES_FAILURE_LIMIT = _login_failures
AXES_COOLOFF_TIME = timedelta(minutes=_login_lockout_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
# Attempts are rows in the database, shared by every web process.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Reverse proxies in front of the site (core/client.py): a count N (the client is
# the N-th entry from the right of X-Forwarded-For) or CIDR networks (entries
# from those networks are skipped from the right). Empty or 0: REMOTE_ADDR, and
# X-Forwarded-For is ignored. One rule for the API's anonymous throttle, the
# login lockout and the survey limit.
TRUSTED_PROXIES = parse_trusted_proxies(env_str("TRUSTED_PROXIES", ""))
AXES_CLIENT_IP_CALLABLE = "core.client.client_address"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"mask_mobiles": {"()": "core.logfilters.MaskMobileNumbers"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_mobiles"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The Tencent Cloud SDK logs whole requests (phone numbers in E.164) at DEBUG.
    "loggers": {"tencentcloud_sdk_common": {"level": "WARNING"}},
}
