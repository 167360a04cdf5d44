"""Fixtures of the recommender tests: a small seeded store, tiny training settings, eager Celery."""
import pytest
from django.contrib.auth import get_user_model

from recommender import active_model, serving, trending

# Tiny model: a couple of epochs at small width, so a training run takes seconds.
TINY_TRAIN_CONFIG = {"dim": 8, "epochs": 2, "patience": 2, "negatives": 32, "batch_size": 64, "max_len": 10,
                     "social_heads": 1}


@pytest.fixture(autouse=True)
def fresh_caches(settings):
    settings.RECOMMENDER_ACTIVE_CHECK_SECONDS = 0
    settings.RECOMMENDER_REFRESH_ON_EVENTS = False
    active_model.forget()
    trending.forget()
    serving.forget()
    from django.core.cache import cache

    cache.clear()
    yield
    active_model.forget()


@pytest.fixture
def tiny_training(settings):
    settings.RECOMMENDER_TRAIN_CONFIG = dict(TINY_TRAIN_CONFIG)
    settings.RECOMMENDER_BASELINES = ["pop"]
    settings.RECOMMENDER_DEVICE = "cpu"
    return settings


def seed_small_store(customers: int = 30, products: int = 150, seed: int = 7) -> dict:
    from shop.demo.generator import seed as seed_store

    return seed_store(customers=customers, products=products, days=10, seed=seed)


@pytest.fixture
def small_store(db):
    return seed_small_store()


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("staff", password="pw", is_staff=True)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


def train_in_process(capture_on_commit, score: bool = False):
    """Queue a run (its broker dispatch suppressed) and execute it here; with `score`, the
    after-commit scoring runs too (needs eager_celery). Returns the finished TrainingRun."""
    from recommender.models import TrainingRun
    from recommender.services import request_retrain
    from recommender.training import execute

    with capture_on_commit(execute=score):
        with capture_on_commit(execute=False):
            run = request_retrain(None)
        execute(run.pk, task_id=run.task_id)
    return TrainingRun.objects.select_related("model_version").get(pk=run.pk)


@pytest.fixture
def active_version(small_store, tiny_training, eager_celery, django_capture_on_commit_callbacks):
    """A seeded store with an active tiny model and materialized top-N for every customer."""
    return train_in_process(django_capture_on_commit_callbacks, score=True).model_version
