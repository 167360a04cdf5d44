"""Admin: "Retrain now", live progress JSON, activate and roll back."""
import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from recommender import services
from recommender.models import ModelVersion, TrainingRun
from tests.recommender.conftest import train_in_process

pytestmark = pytest.mark.django_db


def test_retrain_now_creates_a_run_and_redirects_to_its_progress(superuser, client,
                                                                 django_capture_on_commit_callbacks):
    client.force_login(superuser)
    changelist = client.get("/admin/recommender/trainingrun/")
    assert b"Retrain now" in changelist.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/admin/recommender/trainingrun/retrain/")
    run = TrainingRun.objects.get()
    assert len(callbacks) == 1  # enqueued only after commit
    assert response.status_code == 302 and response["Location"] == f"/admin/recommender/trainingrun/{run.pk}/progress/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"progress.json" in page.content
    payload = client.get(f"/admin/recommender/trainingrun/{run.pk}/progress.json").json()
    assert payload["state"] == "queued" and payload["progress"] == 0 and payload["done"] is False
    with django_capture_on_commit_callbacks(execute=False):
        refused = client.post("/admin/recommender/trainingrun/retrain/", follow=True)
    assert f"Retrain refused: Training run #{run.pk} is already queued".encode() in refused.content
    assert TrainingRun.objects.count() == 1


def test_progress_json_is_staff_only(db, client):
    run = TrainingRun.objects.create()
    response = client.get(f"/admin/recommender/trainingrun/{run.pk}/progress.json")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def make_version(status, artifact_bytes=None) -> ModelVersion:
    version = ModelVersion.objects.create(status=status)
    if artifact_bytes is not None:
        version.artifact.save(f"v{version.pk}.pt", ContentFile(artifact_bytes))
    return version


def test_activate_refuses_a_version_whose_artifact_does_not_load(db):
    version = make_version(ModelVersion.Status.READY, b"garbage")
    with pytest.raises(services.ActivationError, match="does not load"):
        services.activate(version)
    failed = make_version(ModelVersion.Status.FAILED)
    with pytest.raises(services.ActivationError, match="only a ready or retired"):
        services.activate(failed)


def test_activate_and_roll_back_through_admin_actions(small_store, tiny_training, superuser, client,
                                                      django_capture_on_commit_callbacks):
    first, second = (train_in_process(django_capture_on_commit_callbacks).model_version for _ in range(2))
    with django_capture_on_commit_callbacks(execute=False):
        services.activate(second)  # whatever the comparison decided, make v2 the serving one
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/admin/recommender/modelversion/",
                               {"action": "roll_back", "_selected_action": [second.pk]}, follow=True)
    assert b"Rolled back" in response.content
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("active", "retired") and "rolled back from" in first.notes
    with django_capture_on_commit_callbacks(execute=False):
        client.post("/admin/recommender/modelversion/", {"action": "activate_selected", "_selected_action": [second.pk]})
    assert ModelVersion.objects.get(status="active") == second


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_retrain_requests_one_wins(monkeypatch):
    """Two threads (two database connections) race; the unique lock lets exactly one through."""
    monkeypatch.setattr(services, "enqueue_training", lambda run: None)  # about the lock, not the broker
    barrier, outcomes = threading.Barrier(2), []

    def request():
        try:
            barrier.wait()
            outcomes.append(("ok", services.request_retrain(None).pk))
        except services.RetrainRefused as refused:
            outcomes.append(("refused", str(refused)))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"]
    assert TrainingRun.objects.filter(lock=True).count() == 1
