"""Settings shared by every environment; everything that differs comes from the environment.

Embedded defaults need nothing installed: a SQLite file for the database and kombu's
SQLAlchemy transport over another SQLite file for the Celery broker. Production sets
DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://... (see production.py).
"""
import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("GRAPHCART_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# The "shop as..." persona switcher: demo mode only, and never when DEBUG is off.
DEMO_MODE = DEBUG and env_bool("GRAPHCART_DEMO_MODE", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "django_celery_results",
    "shop",
    "recommender",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "shop.context_processors.shop",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, worker) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # Kept open between requests like any database's (DATABASE_CONN_MAX_AGE): a new SQLite
    # connection re-reads the schema on its first query, which cost a web request ~0.8 ms.
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # The dashboard's plotly.js is the plotly package's own bundle (/static/plotly/plotly.min.js), never a CDN.
    "dashboard.staticfinders.PlotlyBundleFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # DRF's TokenAuthentication with a short per-process memory of checked tokens (shop/authentication.py).
        "shop.authentication.CachedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("API_ANON_RATE", "120/minute")},
}
# Seconds a web process trusts a token it has checked (0: read it every request). A deleted token
# or deactivated user stops working at once in the process that made the change, within this
# in the others.
API_TOKEN_CACHE_SECONDS = float(os.environ.get("API_TOKEN_CACHE_SECONDS", "10"))
SPECTACULAR_SETTINGS = {
    "TITLE": "GraphCart API",
    "DESCRIPTION": "Events, catalogue and recommendations of the GraphCart demo store.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Celery: an embedded SQLite broker by default so a real worker runs with nothing installed.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Above the longest training so a slow training is not redelivered while it still runs.
# (Redis only: kombu's SQLAlchemy transport hands its options to create_engine.)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "7200"))}
    if CELERY_BROKER_URL.startswith("redis")
    else {}
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True

# Recommender: CPU-only deployments route training to the default queue.
RECOMMENDER_TRAIN_QUEUE = os.environ.get("RECOMMENDER_TRAIN_QUEUE", "default")
RECOMMENDER_TOP_N = int(os.environ.get("RECOMMENDER_TOP_N", "50"))
# Epoch cap (early stopping on validation NDCG@10 usually ends sooner): a full retrain +
# scoring of the default demo store stays well inside 5 minutes (docs/benchmarks-app.md).
RECOMMENDER_TRAIN_EPOCHS = int(os.environ.get("RECOMMENDER_TRAIN_EPOCHS", "30"))
# Serving: per-process caches of product facts/rows and trending (recommender/local_cache.py),
# and the most events per type that trending reads on a big store.
RECOMMENDER_SERVING_CACHE_SECONDS = float(os.environ.get("RECOMMENDER_SERVING_CACHE_SECONDS", "5"))
# Per process too: each customer's row, materialized list and purchases from before it (events
# since the list are read on every request, so clicks and purchases count at once).
RECOMMENDER_MATERIALIZED_CACHE_SECONDS = float(os.environ.get("RECOMMENDER_MATERIALIZED_CACHE_SECONDS", "60"))
RECOMMENDER_TRENDING_MAX_EVENTS = int(os.environ.get("RECOMMENDER_TRENDING_MAX_EVENTS", "100000"))
RECOMMENDER_DEVICE = os.environ.get("RECOMMENDER_DEVICE", "auto")
# Longest a training run may take, in seconds (0: no limit). The run checks it itself after every
# epoch and phase, so it applies under `celery worker --pool solo` too (recommender/training.py).
RECOMMENDER_TRAIN_TIME_LIMIT = float(os.environ.get("RECOMMENDER_TRAIN_TIME_LIMIT", "7200"))
# TrainConfig overrides as JSON, e.g. '{"dim": 32, "patience": 3}' (recommender/ml/train.py).
RECOMMENDER_TRAIN_CONFIG = json.loads(os.environ.get("RECOMMENDER_TRAIN_CONFIG") or "{}")
# Baselines evaluated on each training run's split (cheap ones by default).
RECOMMENDER_BASELINES = env_list("RECOMMENDER_BASELINES", "pop,itemknn")
CELERY_TASK_ROUTES = {
    "recommender.tasks.train_model": {"queue": RECOMMENDER_TRAIN_QUEUE},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Dashboard: attribution window for widget clicks -> orders, and the largest audience exported
# in the request (larger ones go to the dashboard.tasks.export_campaign Celery task).
DASHBOARD_ATTRIBUTION_DAYS = int(os.environ.get("DASHBOARD_ATTRIBUTION_DAYS", "7"))
DASHBOARD_EXPORT_SYNC_LIMIT = int(os.environ.get("DASHBOARD_EXPORT_SYNC_LIMIT", "5000"))
