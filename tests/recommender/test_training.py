"""A training run in process (the worker path is in test_worker.py): progress, versions,
activation rules, failures, idempotency."""
import pytest

from recommender import serving
from recommender.evaluation import Incumbent
from recommender.models import ModelVersion, Recommendation, TrainingRun
from recommender.services import RetrainRefused, request_retrain
from recommender.training import decide, execute
from shop.models import Customer
from tests.recommender.conftest import train_in_process

pytestmark = pytest.mark.django_db


def test_a_run_trains_saves_evaluates_and_activates(small_store, tiny_training, eager_celery,
                                                    django_capture_on_commit_callbacks):
    run = train_in_process(django_capture_on_commit_callbacks, score=True)
    assert run.state == TrainingRun.State.SUCCEEDED and run.progress == 100.0 and run.lock is None
    # two epochs for each tower, one tower after another; the sequence tower once per dropout to choose from
    assert [(p["tower"], p["epoch"]) for p in run.curve] == [
        ("graph", 1), ("graph", 2), ("social", 3), ("social", 4), ("sequence (dropout 0.5)", 5),
        ("sequence (dropout 0.5)", 6), ("sequence (dropout 0.3)", 7), ("sequence (dropout 0.3)", 8)]
    assert run.model_version.config["sequence_dropout"] in (0.5, 0.3)  # the one validation chose
    assert run.loss is not None
    assert "snapshot:" in run.log_tail and "first model" in run.log_tail
    version = run.model_version
    assert version.status == ModelVersion.Status.ACTIVE
    assert set(version.baseline_metrics) == {"pop"} and "ndcg@10" in version.metrics["validation"]
    assert version.snapshot_stats["users"] == 30
    assert version.artifact.name.startswith("models/run-")
    # score_customers ran (eagerly) after commit: every known customer has a top-N with explanations.
    assert Recommendation.objects.filter(model_version=version).values("customer").distinct().count() == 30
    top = Recommendation.objects.filter(model_version=version, rank=1).first()
    assert set(top.explanation["signals"]) == {"graph", "social", "sequence"}
    result = serving.recommend(customer=top.customer, n=5)
    assert result.source == version.label and len(result.items) == 5


def test_second_run_compares_with_the_active_model_on_the_same_split(small_store, tiny_training,
                                                                      django_capture_on_commit_callbacks):
    first = train_in_process(django_capture_on_commit_callbacks)
    second = train_in_process(django_capture_on_commit_callbacks)
    assert second.state == TrainingRun.State.SUCCEEDED
    notes = second.model_version.notes
    assert f"v{first.model_version_id}" in notes and "on th" in notes  # "on this/the same split"
    assert ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).count() == 1


def test_a_worse_model_is_not_activated_and_says_why():
    version = ModelVersion(pk=5)
    activate, why = decide(version, 0.10, Incumbent(4, 0.20))
    assert not activate and "kept v4 active" in why and "0.1000" in why and "0.2000" in why
    assert decide(version, 0.20, Incumbent(4, 0.20))[0]  # not worse: activated
    assert decide(version, 0.0, Incumbent(4, None, "v4 could not be evaluated"))[0]


def test_a_failing_run_is_marked_failed_and_the_active_model_keeps_serving(small_store, tiny_training,
                                                                           django_capture_on_commit_callbacks):
    first = train_in_process(django_capture_on_commit_callbacks)
    tiny_training.RECOMMENDER_TRAIN_CONFIG = {"loss": "no-such-loss"}
    with pytest.raises(ValueError, match="loss must be one of"):
        train_in_process(django_capture_on_commit_callbacks)
    failed = TrainingRun.objects.order_by("-pk").first()
    assert failed.state == TrainingRun.State.FAILED and "loss must be one of" in failed.error
    assert failed.lock is None and failed.model_version.status == ModelVersion.Status.FAILED
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == first.model_version
    request_retrain(None)  # the lock was released


def test_a_finished_run_delivered_again_does_nothing(small_store, tiny_training, django_capture_on_commit_callbacks):
    run = train_in_process(django_capture_on_commit_callbacks)
    assert execute(run.pk) == f"run {run.pk} already finished"
    assert ModelVersion.objects.count() == 1


def test_a_run_redelivered_mid_training_reuses_its_version(small_store, tiny_training,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = request_retrain(None)
    from recommender.training import claim

    claimed = claim(run.pk, "first-delivery")  # the first worker got this far, then died
    execute(run.pk, task_id="second-delivery")
    run.refresh_from_db()
    assert run.model_version_id == claimed.model_version_id and run.state == TrainingRun.State.SUCCEEDED
    assert "redelivered" in run.log_tail
    assert ModelVersion.objects.count() == 1
    assert ModelVersion.objects.get().status == ModelVersion.Status.ACTIVE


def test_retrain_is_refused_while_a_run_is_queued(db):
    first = request_retrain(None)
    with pytest.raises(RetrainRefused, match=f"#{first.pk} is already queued"):
        request_retrain(None)


def test_a_run_over_its_time_limit_fails_and_the_active_model_keeps_serving(small_store, tiny_training, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    """The limit is checked by the run itself (after each epoch and phase), so it holds under
    `celery worker --pool solo` too, where Celery's own time limits do nothing."""
    from recommender import training

    first = train_in_process(django_capture_on_commit_callbacks)
    tiny_training.RECOMMENDER_TRAIN_TIME_LIMIT = 1
    clock = iter(range(0, 1000, 3))  # every reading of the run's clock is 0.6 s later than the last
    monkeypatch.setattr(training, "_clock", lambda: next(clock) / 5)
    with pytest.raises(training.TrainingTimeLimitExceeded, match="time limit of 1 s exceeded at epoch 1"):
        train_in_process(django_capture_on_commit_callbacks)
    failed = TrainingRun.objects.order_by("-pk").first()
    assert failed.state == TrainingRun.State.FAILED and failed.lock is None
    assert "TrainingTimeLimitExceeded: time limit of 1 s exceeded" in failed.error
    assert [p["epoch"] for p in failed.curve] == [1]  # stopped after the first epoch, not at the end
    assert failed.model_version.status == ModelVersion.Status.FAILED and not failed.model_version.artifact
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == first.model_version
    assert serving.recommend(customer=Customer.objects.first(), n=3).source == first.model_version.label
    request_retrain(None)  # the lock was released


def test_time_limit_zero_means_no_limit():
    from recommender.training import Deadline

    clock = iter([0.0, 1e9])
    Deadline(0, clock=lambda: next(clock)).check("anywhere")  # does not raise
