"""A Celery round trip through a real worker process on the configured broker."""
import os

import pytest

from config.celery import app
from tests.conftest import IN_CI


@pytest.mark.worker
def test_task_round_trip_through_real_worker(live_worker):
    if IN_CI:
        assert app.conf.broker_url.startswith("redis://"), "CI must exercise Redis"
    result = app.send_task("recommender.tasks.ping", args=["hello"])
    assert result.get(timeout=60) == "pong:hello"
    assert os.environ.get("CELERY_TASK_ALWAYS_EAGER", "false") != "true"
