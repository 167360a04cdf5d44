"""Tests: fast hashing, in-memory email; database and broker still come from the environment
(CI sets DATABASE_URL to PostgreSQL and CELERY_BROKER_URL to Redis)."""
import os

from .base import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "10000/minute"}}  # noqa: F405

# A real worker process (tests/conftest.py: live_worker) must see the test database, so on
# SQLite the test database is a file, not memory. One file per test process, so two test
# runs on one checkout never share (and corrupt) a database or a broker.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    _run = os.environ.get("GRAPHCART_TEST_RUN") or str(os.getpid())
    os.environ["GRAPHCART_TEST_RUN"] = _run  # the live worker process inherits the same names
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{_run}.sqlite3")}  # noqa: F405
    CELERY_BROKER_URL = os.environ.get(  # noqa: F405
        "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / f'test-broker-{_run}.sqlite3'}"  # noqa: F405
    )
