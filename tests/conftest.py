"""Fixtures shared by every test package.

- `require_service(name, ok)`: skips a test whose service is missing, except with CI=true,
  where a missing service is a failure (CI must run everything).
- `celery_eager()` / the `eager_celery` fixture: tasks run inline. It sets the Celery app's
  own conf: Django's CELERY_* settings are read once, when the app is configured, so
  overriding them in a test changes nothing after that.
- `live_worker`: a real `celery worker` process on the test database and the configured
  broker (Redis in CI, the embedded SQLite broker locally). Tests using it need
  `transactional_db` so the worker sees committed rows.
"""
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(name: str, available: bool) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is required when CI=true and is not available")
    pytest.skip(f"{name} is not available here")


@pytest.fixture(autouse=True)
def serving_reads_fresh_rows(settings):
    """Serving's per-process caches (recommender/local_cache.py, the materialized lists) and the
    API's token cache (shop/authentication.py) would carry one test's rows into the next (same
    primary keys, other data): off in tests, tested on their own."""
    settings.RECOMMENDER_SERVING_CACHE_SECONDS = 0
    settings.RECOMMENDER_MATERIALIZED_CACHE_SECONDS = 0
    settings.API_TOKEN_CACHE_SECONDS = 0


@contextmanager
def celery_eager():
    from config.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = old


@pytest.fixture
def eager_celery():
    """Tasks run inline (score_customers after activation, refresh_customer, exports)."""
    with celery_eager() as app:
        yield app


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _purge_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in ("default", "gpu", "celery"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # the queue does not exist yet
                pass


class LiveWorker:
    def __init__(self, queues: str = "default,gpu", extra_env: dict | None = None):
        self.queues = queues
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(settings.VAR_DIR) / f"test-worker-{os.getpid()}.log"

    def start(self) -> "LiveWorker":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **self.extra_env,
        }
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queues,
             "--pool", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-n",
             f"test-{os.getpid()}-{time.time_ns()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_text()}")
            if "ready." in self.log_text():
                return
            time.sleep(0.3)
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker: simulates a worker lost mid-task."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture
def live_worker(transactional_db, settings):
    """A real worker for one test; yields the LiveWorker (so a test can kill and restart it)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _purge_broker()
    workers: list[LiveWorker] = []

    def start(**kwargs) -> LiveWorker:
        worker = LiveWorker(**kwargs).start()
        workers.append(worker)
        return worker

    worker = start()
    worker.start_another = start
    yield worker
    for w in workers:
        w.stop()
    _purge_broker()


def wait_until(predicate, timeout: float = 60, interval: float = 0.3, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's SQLite broker file (the test database is dropped by pytest-django)."""
    run = os.environ.get("GRAPHCART_TEST_RUN")
    if run:
        Path(settings.VAR_DIR, f"test-broker-{run}.sqlite3").unlink(missing_ok=True)
