"""Celery tasks: train (one at a time, idempotent by run id), materialize top-N, refresh one
customer after a purchase or follow, and the nightly retrain beat runs."""
import logging

from celery import group, shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from .models import Recommendation
from .services import train_time_limit

logger = logging.getLogger(__name__)

# The training time limit is RECOMMENDER_TRAIN_TIME_LIMIT, which the run checks itself after every
# epoch and phase (recommender/training.py: Deadline), so it holds under `--pool solo`, where
# Celery enforces no time limit at all. Under the prefork pool Celery's limits are a backstop a
# little above it, for a phase that never returns.
TRAIN_TIME_LIMIT = train_time_limit()
SOFT_TIME_LIMIT = TRAIN_TIME_LIMIT + 300 if TRAIN_TIME_LIMIT > 0 else None
TIME_LIMIT = TRAIN_TIME_LIMIT + 600 if TRAIN_TIME_LIMIT > 0 else None


@shared_task(name="recommender.tasks.ping", acks_late=True)
def ping(value: str) -> str:
    return f"pong:{value}"


@shared_task(
    bind=True,
    name="recommender.tasks.train_model",
    acks_late=True,
    reject_on_worker_lost=True,  # a killed worker's message goes back to the queue
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
    max_retries=3,
)
def train_model(self, run_id: int) -> str:
    from .training import execute

    try:
        return execute(run_id, task_id=self.request.id or "")
    except OperationalError as exc:  # the database went away: retry a few times, then give up
        raise self.retry(exc=exc, countdown=30 * (self.request.retries + 1))


@shared_task(name="recommender.tasks.nightly_retrain", acks_late=True)
def nightly_retrain() -> str:
    from .services import RetrainRefused, request_retrain

    try:
        return f"queued training run {request_retrain(None).pk}"
    except RetrainRefused as refused:
        return f"skipped: {refused}"


def top_n() -> int:
    return int(settings.RECOMMENDER_TOP_N)


def explain_top() -> int:
    """Materialized rows carry the model's explanation for the first few ranks."""
    return int(getattr(settings, "RECOMMENDER_EXPLAIN_TOP", 10))


@shared_task(name="recommender.tasks.score_customers", acks_late=True, max_retries=3)
def score_customers(version_id: int) -> int:
    """Fan out one `score_chunk` per RECOMMENDER_SCORE_CHUNK customers; returns the chunk count."""
    from shop.models import Customer

    size = int(getattr(settings, "RECOMMENDER_SCORE_CHUNK", 500))
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    if chunks:
        group(score_chunk.s(version_id, chunk) for chunk in chunks).apply_async()
    return len(chunks)


def _model_for(version_id: int):
    """The Recommender of `version_id` if that version is still the active one, else None."""
    from .active_model import active_model, forget

    loaded = active_model()
    if loaded is None or loaded.version_id != version_id:
        forget()  # this worker may have cached an older version
        loaded = active_model()
    if loaded is None or loaded.version_id != version_id or not loaded.ok:
        return None
    return loaded.recommender


@shared_task(name="recommender.tasks.score_chunk", acks_late=True, max_retries=3)
def score_chunk(version_id: int, customer_ids: list[int]) -> int:
    """Materialize the top-N of these customers (idempotent: their rows are replaced)."""
    from .serving import display_names

    rec = _model_for(version_id)
    if rec is None:
        return 0
    known = [str(pk) for pk in customer_ids if rec.has_user(str(pk))]
    ranked = rec.recommend_many(known, k=top_n()) if known else {}
    names = display_names()
    rows = []
    for uid, items in ranked.items():
        # one sequence pass per customer; its explained items in one pass
        explained = rec.explain_session_many(rec.session(uid), [item for item, _ in items[:explain_top()]], names)
        for rank, (item, score) in enumerate(items, start=1):
            explanation = explained[rank - 1] if rank <= len(explained) else {}
            rows.append(Recommendation(customer_id=int(uid), product_id=int(item), rank=rank, score=float(score),
                                       model_version_id=version_id, explanation=explanation))
    _replace_rows(customer_ids, rows)
    return len(ranked)


@shared_task(name="recommender.tasks.refresh_customer", acks_late=True, max_retries=3)
def refresh_customer(customer_id: int) -> int:
    """Re-materialize one customer from their events since the snapshot (after a purchase or
    follow) so their next page starts from an up-to-date list; returns the rows written."""
    from shop.models import Customer, Follow

    from .active_model import active_model
    from .serving import display_names, loaded_taken_at, purchased_product_ids, recent_product_ids

    loaded = active_model()
    customer = Customer.objects.filter(pk=customer_id).first()
    if loaded is None or not loaded.ok or customer is None:
        return 0
    rec, uid = loaded.recommender, str(customer_id)
    purchased = [str(pk) for pk in purchased_product_ids(customer)]
    if rec.has_user(uid):
        state = rec.session(uid)
        for pid in recent_product_ids(customer, "", loaded_taken_at(loaded)):
            state = rec.step(state, str(pid))
        ranked = rec.score_session(state, k=top_n(), exclude=purchased)
        explained = rec.explain_session_many(state, [item for item, _ in ranked[:explain_top()]], display_names())
    else:
        friends = [str(f) for f in Follow.objects.filter(follower=customer).values_list("followee_id", flat=True)]
        ranked = rec.cold_start([f for f in friends if rec.has_user(f)], k=top_n(), exclude=purchased)
        explained = [{"text": "Popular with the people you follow"} for _ in ranked[:explain_top()]]
    rows = [
        Recommendation(customer_id=customer_id, product_id=int(item), rank=rank, score=float(score),
                       model_version_id=loaded.version_id,
                       explanation=explained[rank - 1] if rank <= len(explained) else {})
        for rank, (item, score) in enumerate(ranked, start=1)
    ]
    _replace_rows([customer_id], rows)
    return len(rows)


def _replace_rows(customer_ids: list[int], rows: list[Recommendation]) -> None:
    now = timezone.now()
    for row in rows:
        row.created = now
    with transaction.atomic():
        Recommendation.objects.filter(customer_id__in=customer_ids).delete()
        Recommendation.objects.bulk_create(rows, batch_size=1000)

