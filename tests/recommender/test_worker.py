"""End to end through a real Celery worker (Redis in CI, the embedded broker locally):
retrain from the admin, watch the run reach 100 %, serve; and the faults."""
import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.celery import app
from recommender.models import ModelVersion, Recommendation, TrainingRun
from shop.models import Customer
from tests.conftest import require_service, wait_until
from tests.recommender.conftest import TINY_TRAIN_CONFIG, seed_small_store

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def worker_env(monkeypatch):
    """What every worker started by the test inherits: a tiny model, cheap baselines."""
    monkeypatch.setenv("RECOMMENDER_TRAIN_CONFIG", json.dumps(TINY_TRAIN_CONFIG))
    monkeypatch.setenv("RECOMMENDER_BASELINES", "pop")
    monkeypatch.setenv("RECOMMENDER_DEVICE", "cpu")
    return monkeypatch


@pytest.fixture
def worker(worker_env, live_worker):
    return live_worker


def retrain_from_admin(client) -> TrainingRun:
    response = client.post("/admin/recommender/trainingrun/retrain/")
    assert response.status_code == 302, response.content[:500]
    return TrainingRun.objects.order_by("-pk").first()


def wait_for_run(run: TrainingRun, timeout: float = 120) -> TrainingRun:
    def finished():
        run.refresh_from_db()
        return run.done

    wait_until(finished, timeout=timeout, message=f"training run {run.pk} to finish")
    return run


def api_recommendations(customer) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=customer.user).key}")
    response = client.get(f"/api/customers/{customer.pk}/recommendations?n=5")
    assert response.status_code == 200
    return response.json()


def test_retrain_from_admin_through_the_worker_then_serve(worker, client, django_user_model):
    seed_small_store()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    run = wait_for_run(retrain_from_admin(client))
    assert run.state == TrainingRun.State.SUCCEEDED, run.error
    towers = 4  # graph, social, then the sequence tower once per dropout it chooses from (0.5, 0.3)
    assert run.progress == 100.0 and run.epoch == towers * TINY_TRAIN_CONFIG["epochs"] and len(run.curve) == towers * 2
    progress = client.get(f"/admin/recommender/trainingrun/{run.pk}/progress.json").json()
    assert progress["done"] and progress["model_status"] == "active"
    version = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    assert version == run.model_version
    # score_customers fanned out as a group through the same worker
    wait_until(lambda: Recommendation.objects.filter(model_version=version).values("customer").distinct().count()
               == Customer.objects.count(), timeout=60, message="materialized recommendations")
    body = api_recommendations(Customer.objects.first())
    assert body["source"] == f"model:{version.pk}" and len(body["items"]) == 5
    assert body["items"][0]["explanation"]["signals"]


def test_a_failing_training_task_leaves_the_previous_model_serving(worker_env, live_worker, client,
                                                                   django_user_model):
    seed_small_store()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    first = wait_for_run(retrain_from_admin(client))
    previous = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    assert first.model_version == previous
    live_worker.stop()
    worker_env.setenv("RECOMMENDER_TRAIN_CONFIG", json.dumps({"loss": "no-such-loss"}))
    live_worker.start_another()
    failed = wait_for_run(retrain_from_admin(client))
    assert failed.state == TrainingRun.State.FAILED
    assert "ValueError: loss must be one of" in failed.error
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == previous
    assert failed.model_version.status == ModelVersion.Status.FAILED
    assert api_recommendations(Customer.objects.first())["source"] == previous.label


def test_the_training_time_limit_holds_under_the_solo_pool(worker_env, live_worker, client, django_user_model):
    """`--pool solo` ignores Celery's time limits; the run's own check stops it after an epoch."""
    seed_small_store()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    previous = wait_for_run(retrain_from_admin(client)).model_version
    live_worker.stop()
    worker_env.setenv("RECOMMENDER_TRAIN_CONFIG", json.dumps({**TINY_TRAIN_CONFIG, "epochs": 500, "patience": 500}))
    worker_env.setenv("RECOMMENDER_TRAIN_TIME_LIMIT", "1")
    live_worker.start_another()
    failed = wait_for_run(retrain_from_admin(client))
    assert failed.state == TrainingRun.State.FAILED
    assert "TrainingTimeLimitExceeded: time limit of 1 s exceeded" in failed.error
    assert failed.epoch < 500 and failed.model_version.status == ModelVersion.Status.FAILED
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == previous
    assert api_recommendations(Customer.objects.first())["source"] == previous.label


def test_a_worker_killed_mid_training_is_redelivered_and_one_version_goes_live(worker_env, live_worker, client,
                                                                               django_user_model):
    require_service("Redis broker (redelivery of unacked messages)", app.conf.broker_url.startswith("redis://"))
    seed_small_store()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    long_config = {**TINY_TRAIN_CONFIG, "epochs": 40, "patience": 40}
    live_worker.stop()
    worker_env.setenv("RECOMMENDER_TRAIN_CONFIG", json.dumps(long_config))
    first = live_worker.start_another()
    run = retrain_from_admin(client)

    def training_started():
        run.refresh_from_db()
        return run.epoch >= 2

    wait_until(training_started, timeout=120, message="training to be under way")
    first.kill()
    run.refresh_from_db()
    assert run.state == TrainingRun.State.RUNNING and run.lock
    # The unacked message becomes visible again after the (short, test-only) visibility timeout;
    # the next worker restores it when it starts polling.
    import time

    time.sleep(3)
    live_worker.start_another(extra_env={"CELERY_VISIBILITY_TIMEOUT": "2"})
    run = wait_for_run(run, timeout=240)
    assert run.state == TrainingRun.State.SUCCEEDED, run.error
    assert "redelivered" in run.log_tail
    assert ModelVersion.objects.count() == 1
    assert ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).get() == run.model_version


def test_parallel_tower_trainings_under_the_worker_and_its_time_limit(worker_env, live_worker, client,
                                                                      django_user_model):
    """RECOMMENDER_TRAIN_CONFIG {"parallel_towers": 2}: the solo-pool worker may start the tower
    trainings' processes; their progress reaches the run, and the run's time limit stops them."""
    seed_small_store()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    live_worker.stop()
    worker_env.setenv("RECOMMENDER_TRAIN_CONFIG", json.dumps({**TINY_TRAIN_CONFIG, "parallel_towers": 2}))
    parallel = live_worker.start_another()
    run = wait_for_run(retrain_from_admin(client))
    assert run.state == TrainingRun.State.SUCCEEDED, run.error
    assert run.progress == 100.0 and run.epoch == 4 * TINY_TRAIN_CONFIG["epochs"] and len(run.curve) == 4 * 2
    previous = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    parallel.stop()
    worker_env.setenv("RECOMMENDER_TRAIN_CONFIG",
                      json.dumps({**TINY_TRAIN_CONFIG, "parallel_towers": 2, "epochs": 500, "patience": 500}))
    worker_env.setenv("RECOMMENDER_TRAIN_TIME_LIMIT", "1")
    live_worker.start_another()
    failed = wait_for_run(retrain_from_admin(client))
    assert failed.state == TrainingRun.State.FAILED, (failed.epoch, failed.log_tail)
    assert "TrainingTimeLimitExceeded: time limit of 1 s exceeded" in failed.error
    assert failed.epoch < 4 * 500
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == previous
