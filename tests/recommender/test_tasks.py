"""Tasks around training: refresh after purchase/follow, the nightly schedule, the retrain command."""
import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from recommender import tasks
from recommender.models import Recommendation, TrainingRun
from recommender.services import request_retrain
from shop.models import Customer, Event
from shop.tracking import record
from tests.recommender.conftest import seed_small_store

pytestmark = pytest.mark.django_db


def test_nightly_retrain_is_registered_with_celery_beat(db):
    task = PeriodicTask.objects.get(name="recommender: nightly retrain")
    assert task.task == "recommender.tasks.nightly_retrain" and task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("0", "3")


def test_nightly_retrain_skips_while_a_run_holds_the_lock(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = request_retrain(None)
        assert tasks.nightly_retrain().startswith(f"skipped: Training run #{run.pk}")


def test_purchase_refreshes_the_customers_materialized_list(active_version, settings,
                                                            django_capture_on_commit_callbacks):
    version = active_version
    customer = Recommendation.objects.filter(model_version=version).first().customer
    top = Recommendation.objects.get(customer=customer, rank=1)
    settings.RECOMMENDER_REFRESH_ON_EVENTS = True
    with django_capture_on_commit_callbacks(execute=True):
        record(Event.Type.PURCHASE, customer=customer, product=top.product)
    rows = Recommendation.objects.filter(customer=customer).order_by("rank")
    assert rows.count() == settings.RECOMMENDER_TOP_N
    assert top.product_id not in rows.values_list("product_id", flat=True)
    assert rows[0].created > top.created and rows[0].explanation["signals"]


def test_refresh_without_a_model_does_nothing(small_store):
    assert tasks.refresh_customer(Customer.objects.first().pk) == 0


def test_retrain_command_waits_and_reports(transactional_db, tiny_training, eager_celery, capsys):
    seed_small_store()
    call_command("retrain", "--wait", "--timeout", "120")
    run = TrainingRun.objects.get()
    assert run.state == "succeeded"
    out = capsys.readouterr()
    assert f"Queued training run #{run.pk}" in out.out and "succeeded" in out.out and "100%" in out.err
    call_command("retrain", "--if-no-active")
    assert TrainingRun.objects.count() == 1


def test_retrain_command_fails_loudly(transactional_db, tiny_training, eager_celery):
    seed_small_store()
    tiny_training.RECOMMENDER_TRAIN_CONFIG = {"epochs": 0}
    with pytest.raises(CommandError, match="failed: ValueError: epochs must be at least 1"):
        call_command("retrain", "--wait", "--timeout", "60")
    run = TrainingRun.objects.get()
    assert run.state == "failed" and run.error.startswith("ValueError: epochs must be at least 1")


def test_retrain_command_refused_without_wait(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = request_retrain(None)
        with pytest.raises(CommandError, match=f"#{run.pk} is already queued"):
            call_command("retrain")
