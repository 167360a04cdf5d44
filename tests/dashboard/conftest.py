import pytest
from django.contrib.auth.models import User

from tests.conftest import celery_eager

from . import factories


@pytest.fixture
def merch_client(client, db):
    client.force_login(factories.merchandiser())
    return client


@pytest.fixture
def customer_client(client, db):
    client.force_login(factories.customer("Shopper").user)
    return client


@pytest.fixture
def staff_outsider_client(client, db):
    """Staff, but not in the merchandiser group: no dashboard either."""
    client.force_login(User.objects.create_user("clerk", password="pw-clerk-123", is_staff=True))
    return client


# A model small enough to train in seconds on a seeded store of 30 customers.
TINY_TRAINING = {"dim": 8, "epochs": 2, "patience": 2, "negatives": 32, "batch_size": 64, "max_len": 10,
                 "social_heads": 1}


@pytest.fixture
def fresh_recommender(settings):
    """No model or cached list left over from another test."""
    from django.core.cache import cache

    from recommender import active_model

    settings.RECOMMENDER_ACTIVE_CHECK_SECONDS = 0
    settings.RECOMMENDER_REFRESH_ON_EVENTS = False
    active_model.forget()
    cache.clear()
    yield
    active_model.forget()
    cache.clear()


@pytest.fixture
def trained(db, settings, fresh_recommender, django_capture_on_commit_callbacks):
    """A seeded store with a real (tiny) model trained, activated and materialized, eagerly."""
    from recommender.models import ModelVersion
    from recommender.services import request_retrain
    from shop.demo.generator import seed

    settings.RECOMMENDER_TRAIN_CONFIG = dict(TINY_TRAINING)
    settings.RECOMMENDER_BASELINES = ["pop"]
    settings.RECOMMENDER_DEVICE = "cpu"
    seed(customers=30, products=120, days=10, seed=7)
    with celery_eager(), django_capture_on_commit_callbacks(execute=True):
        request_retrain(None)
    return ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
