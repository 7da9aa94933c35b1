"""Warroom settings: every value comes from the environment; the defaults are the local
room that `make run` starts (project-local PostgreSQL and Redis on loopback)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    return env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# Off unless asked for: `make run`, `make test` and the test fixtures set DEBUG=1; anything
# that forgets to configure the app gets the production settings and, without a
# SECRET_KEY, refuses to start.
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in the environment (DEBUG is off). Production: a long random string, "
            "e.g. python -c \"import secrets; print(secrets.token_urlsafe(64))\". A local room: DEBUG=1."
        )
    SECRET_KEY = "local-development-only-not-a-secret-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "") or []

# The room connects as DATABASE_URL's role. In production that is an app role that does not
# own the tables; `manage.py migrate` then connects as their owner, MIGRATE_DATABASE_URL (set
# for the migrate step only), and grants the app role what it may do (see that command).
DATABASE_URL = env("DATABASE_URL", "postgres://warroom@127.0.0.1:55432/warroom")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
MIGRATE_DATABASE_URL = env("MIGRATE_DATABASE_URL", "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")

INSTALLED_APPS = [
    "daphne",
    "warroom.admin_config.AdminConfig",  # Django's admin, its sign-in audited (warroom/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "warroom",
    "listening",
    "triage",
    "approvals",
    "playbooks",
    "wall",
    "room",
]

MIDDLEWARE = [
    "warroom.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    # After axes: a wrong second-factor code it counted is answered with its lockout page.
    "warroom.twofactor.RequireTwoFactorMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "warroom.urls"
ASGI_APPLICATION = "warroom.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "warroom.roles.context",
                "approvals.context.queue_switch",
                "room.context.crisis_banner",
            ],
            "builtins": ["warroom.templatetags.untrusted"],  # |bdi and |no_bidi_controls for outside text
        },
    },
]

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        # Redis pub/sub: one message per process per event, fanned out in-process to that
        # process's sockets (the list-based layer costs a Redis round trip per socket per
        # event). Pub/sub delivers at most once; the live layer's replay covers any gap.
        # redis-py 8's default 5 s socket timeout would cut an idle subscription: give reads room.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env("CHANNEL_PREFIX", "warroom"),
        },
    }
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # ASVS 2.1.1: at least 12 characters.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "room"
LOGOUT_REDIRECT_URL = "login"

# Behind the TLS proxy (on by default in production): the scheme comes from its
# X-Forwarded-Proto, and the client's address from its X-Forwarded-For when the request
# comes from one of TRUSTED_PROXIES, PROXY_COUNT proxies deep (see warroom/proxy.py).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", not DEBUG)
PROXY_COUNT = int(env("PROXY_COUNT", "1"))
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7")
if PROXY_COUNT < 1:
    raise ImproperlyConfigured("PROXY_COUNT is the number of proxies in front of the room: 1 or more.")
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Failed logins: five wrong passwords for one username from one client address lock that
# username out from that address for 15 minutes; the lead signs in from anywhere else.
AXES_CLIENT_IP_CALLABLE = "warroom.proxy.client_address"
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# A sign-in clears its failures only when it is complete: after the password for most, after
# the second factor for those who use one (warroom.twofactor.throttle_reset). Axes' own
# reset on the password would let wrong codes be retried for ever between two sign-ins.
AXES_RESET_ON_SUCCESS = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / ".run" / "staticfiles"
WHITENOISE_USE_FINDERS = True

# Media files (approvals/media.py): stored once under their SHA-256 in the default storage,
# never served from MEDIA_URL: the room serves them to signed-in people through a view.
# MEDIA_STORAGE names another backend (e.g. django-storages' storages.backends.s3.S3Storage,
# configured by its own AWS_* settings).
MEDIA_ROOT = env("MEDIA_ROOT", str(BASE_DIR / ".run" / "media"))
MEDIA_URL = "/approvals/media/"
STORAGES = {
    "default": {"BACKEND": env("MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_UPLOAD_MAX_MB = int(env("MEDIA_UPLOAD_MAX_MB", "100"))

# Celery: late acks so a killed worker's task is redelivered; due times live in the
# database, never in countdowns longer than the visibility timeout.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "live-prune": {"task": "warroom.tasks.live_prune", "schedule": 3600.0},
}

# The live layer keeps events this long for reconnecting browsers; the audit log keeps everything.
LIVE_RETENTION_DAYS = int(env("LIVE_RETENTION_DAYS", "7"))
LIVE_SYNC_SECONDS = float(env("LIVE_SYNC_SECONDS", "5"))
LIVE_REPLAY_LIMIT = int(env("LIVE_REPLAY_LIMIT", "1000"))
# Repeated events of one kind (SLA breaches, cases opened) within this many seconds of the
# first become one rail item and one notice with a count; 0 turns grouping off.
LIVE_GROUP_SECONDS = int(env("LIVE_GROUP_SECONDS", "60"))
# A resolved incident reopens when its alert rule fires again within this many minutes
# (instead of a second incident for the same rule).
INCIDENT_REOPEN_MINUTES = int(env("INCIDENT_REOPEN_MINUTES", "120"))
# A room socket must say hello within this many seconds; until it does it keeps at most
# LIVE_EARLY_LIMIT pushes (the sweep sends what it let go). One user holds at most
# LIVE_SOCKETS_PER_USER open sockets, counted across every web process.
LIVE_HELLO_SECONDS = float(env("LIVE_HELLO_SECONDS", "5"))
LIVE_EARLY_LIMIT = int(env("LIVE_EARLY_LIMIT", "200"))
LIVE_SOCKETS_PER_USER = int(env("LIVE_SOCKETS_PER_USER", "20"))

# /healthz tells anyone only "ok" or "down"; which part is down (and the error's class) is
# for a signed-in lead or admin, or a monitor sending "Authorization: Bearer <this token>".
HEALTHZ_TOKEN = env("HEALTHZ_TOKEN", "")

# X API credentials (listening and publishing use them; never stored in the repository).
X_BEARER_TOKEN = env("X_BEARER_TOKEN", "")
X_API_BASE_URL = env("X_API_BASE_URL", "")
# Feeds on private or reserved addresses are refused (a feed URL must not reach internal
# services); only a test or a lab with its own feed server on the LAN turns this on.
RSS_ALLOW_INTERNAL_FEEDS = env_bool("RSS_ALLOW_INTERNAL_FEEDS", False)
X_TIMEOUT_SECONDS = float(env("X_TIMEOUT_SECONDS", "10"))
X_MAX_PAGES_PER_POLL = int(env("X_MAX_PAGES_PER_POLL", "10"))
# Posting needs user context: OAuth 1.0a keys, or an OAuth 2.0 user access token.
X_CONSUMER_KEY = env("X_CONSUMER_KEY", "")
X_CONSUMER_SECRET = env("X_CONSUMER_SECRET", "")
X_ACCESS_TOKEN = env("X_ACCESS_TOKEN", "")
X_ACCESS_TOKEN_SECRET = env("X_ACCESS_TOKEN_SECRET", "")
X_USER_ACCESS_TOKEN = env("X_USER_ACCESS_TOKEN", "")
# Drills post only to the sandbox account, with its own token (never the brand's credentials).
X_SANDBOX_USER_ACCESS_TOKEN = env("X_SANDBOX_USER_ACCESS_TOKEN", "")

# Mastodon and Bluesky: each account and source names its own server (instance URL, PDS)
# and credential; these send every request elsewhere instead (the loopback fakes of tests
# and the demo), and bound how long a server may stay silent.
MASTODON_API_BASE_URL = env("MASTODON_API_BASE_URL", "")
MASTODON_TIMEOUT_SECONDS = float(env("MASTODON_TIMEOUT_SECONDS", "10"))
MASTODON_MAX_PAGES_PER_POLL = int(env("MASTODON_MAX_PAGES_PER_POLL", "10"))
BLUESKY_API_BASE_URL = env("BLUESKY_API_BASE_URL", "")
BLUESKY_TIMEOUT_SECONDS = float(env("BLUESKY_TIMEOUT_SECONDS", "10"))
BLUESKY_MAX_PAGES_PER_POLL = int(env("BLUESKY_MAX_PAGES_PER_POLL", "10"))
# Reddit: an account or source names its script app and user; REDDIT_API_BASE_URL sends
# both the API and the access-token requests elsewhere (the loopback fake).
REDDIT_API_BASE_URL = env("REDDIT_API_BASE_URL", "")
REDDIT_TIMEOUT_SECONDS = float(env("REDDIT_TIMEOUT_SECONDS", "10"))
REDDIT_MAX_PAGES_PER_POLL = int(env("REDDIT_MAX_PAGES_PER_POLL", "5"))
REDDIT_USER_AGENT = env("REDDIT_USER_AGENT", "")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(env("SESSION_COOKIE_AGE", str(12 * 3600)))
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # Health checks from the orchestrator come over plain HTTP on the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Listening.
LISTENING_LANGUAGES = env_list("LISTENING_LANGUAGES", "en,es,pt,fr,de,it,nl,ar,he,ja,ko,zh,ru,hi,tr,pl")
LISTENING_LEASE_SECONDS = int(env("LISTENING_LEASE_SECONDS", "120"))
LISTENING_POLL_EVERY_SECONDS = float(env("LISTENING_POLL_EVERY_SECONDS", "5"))
X_MONTHLY_READ_CAP = int(env("X_MONTHLY_READ_CAP", "15000"))
CELERY_BEAT_SCHEDULE["poll-due-sources"] = {
    "task": "listening.tasks.poll_due_sources",
    "schedule": LISTENING_POLL_EVERY_SECONDS,
}
CELERY_BEAT_SCHEDULE["spikes-check"] = {"task": "listening.tasks.spikes_check", "schedule": 30.0}

# Approvals.
GUARDRAIL_BLOCKED_TERMS = env_list("GUARDRAIL_BLOCKED_TERMS", "")
PUBLISH_EVERY_SECONDS = float(env("PUBLISH_EVERY_SECONDS", "2"))
CELERY_BEAT_SCHEDULE["publish-due-posts"] = {"task": "approvals.tasks.publish_due_posts", "schedule": PUBLISH_EVERY_SECONDS}
# Results: the engagement of what went out is read on a decaying schedule (room/flows/engagement.py).
ENGAGEMENT_EVERY_SECONDS = float(env("ENGAGEMENT_EVERY_SECONDS", "30"))
CELERY_BEAT_SCHEDULE["engagement-refresh"] = {"task": "room.tasks.engagement_refresh", "schedule": ENGAGEMENT_EVERY_SECONDS}
CELERY_BEAT_SCHEDULE["approvals-housekeeping"] = {"task": "approvals.tasks.housekeeping", "schedule": 15.0}
CELERY_BEAT_SCHEDULE["sla-check"] = {"task": "triage.tasks.sla_check", "schedule": 15.0}
CELERY_BEAT_SCHEDULE["kpis-refresh"] = {"task": "triage.tasks.kpis_refresh", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["suggestions-expire"] = {"task": "playbooks.tasks.suggestions_expire", "schedule": 15.0}

# The Wall: presence, notifications and story arcs.
PRESENCE_SECONDS = float(env("PRESENCE_SECONDS", "30"))  # a socket that stops refreshing is gone after this
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = float(env("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "warroom@localhost")
SLACK_WEBHOOK_URL = env("SLACK_WEBHOOK_URL", "")
# The address notices link back to (e-mail has no request to build it from).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# Crisis mode (room/flows/crisis.py): how the contact tree is reached when a crisis is
# declared (a list of channel classes; add one to reach people another way), the Slack
# incoming webhook for crisis notices (falls back to SLACK_WEBHOOK_URL), and hosts an
# outgoing request may reach although they are not public (warroom/netguard.py; tests only).
CRISIS_CHANNELS = env_list("CRISIS_CHANNELS", "room.channels.EmailChannel,room.channels.SlackChannel")
CRISIS_SLACK_WEBHOOK_URL = env("CRISIS_SLACK_WEBHOOK_URL", "")
NETGUARD_ALLOW_HOSTS: list[str] = []  # set by tests only, never from the environment: it lifts the guard
CELERY_BEAT_SCHEDULE["topics-refresh"] = {"task": "wall.tasks.topics_refresh", "schedule": 60.0}
# Approve away from the desk (approvals.services.approval_link_issue): how long the
# signed, single-use link an approver on deck receives stays good.
APPROVAL_LINK_MINUTES = int(env("APPROVAL_LINK_MINUTES", "15"))
# Two-factor sign-in (warroom/twofactor.py, django-otp): members of these groups enrol and
# verify a code before any page, e.g. "legal,lead"; anyone may turn it on for themselves.
OTP_REQUIRED_GROUPS = env_list("OTP_REQUIRED_GROUPS", "")
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "Warroom")
