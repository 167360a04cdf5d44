"""Tests: fast hashing, in-memory email; database and broker still come from the environment
(CI sets DATABASE_URL to PostgreSQL and CELERY_BROKER_URL to Redis)."""
import os

from .base import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "10000/minute"}}  # noqa: F405

# A real worker process (tests/conftest.py: live_worker) must see the test database, so on
# SQLite the test database is a file, not memory.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
    CELERY_BROKER_URL = os.environ.get(  # noqa: F405
        "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'test-broker.sqlite3'}"  # noqa: F405
    )
