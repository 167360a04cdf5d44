"""Trending products: time-decayed popularity, the fallback that always has an answer.

Events of the last RECOMMENDER_TRENDING_DAYS are counted per product and day in SQL
(views 1, carts 3, purchases 5, as in Oscar's analytics), each day's count decays by
half every RECOMMENDER_TRENDING_HALF_LIFE_DAYS, and the ranking is cached briefly.
Products with no recent events follow by their lifetime counters, so a quiet store
still fills every widget. On a big store the window shrinks to each type's latest
RECOMMENDER_TRENDING_MAX_EVENTS events, so computing it reads a bounded number of rows.
"""
import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from shop.models import Event, Product

from .local_cache import TTLMap

WEIGHTS = {Event.Type.VIEW: 1.0, Event.Type.ADD_TO_CART: 3.0, Event.Type.PURCHASE: 5.0}
CACHE_KEY = "recommender:trending:v1"
LIMIT = 300
_local = TTLMap(max_entries=4)  # in front of the shared cache: no Redis round trip per request


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def compute_trending(limit: int = LIMIT) -> list[tuple[int, float]]:
    """[(product_id, score)] best first, over active in-stock products."""
    days = _setting("RECOMMENDER_TRENDING_DAYS", 30)
    half_life = _setting("RECOMMENDER_TRENDING_HALF_LIFE_DAYS", 3)
    today = timezone.now().date()
    since = timezone.now() - timedelta(days=days)
    max_events = int(_setting("RECOMMENDER_TRENDING_MAX_EVENTS", 100_000))
    window = Q()
    for kind in WEIGHTS:
        window |= Q(type=kind, timestamp__gte=_window_start(kind, since, max_events))
    rows = (
        Event.objects.filter(window, product__isnull=False)
        .annotate(day=TruncDate("timestamp"))
        .values_list("product_id", "type", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    scores: dict[int, float] = {}
    for product_id, kind, day, n in rows:
        age = max((today - day).days, 0)
        scores[product_id] = scores.get(product_id, 0.0) + WEIGHTS[kind] * n * math.pow(0.5, age / half_life)
    sellable = Product.objects.filter(active=True, stock__gt=0)
    ranked = sorted(
        ((pk, scores[pk]) for pk in sellable.filter(pk__in=list(scores)).values_list("pk", flat=True)),
        key=lambda pair: (-pair[1], pair[0]),
    )[:limit]
    if len(ranked) < limit:  # quiet store: lifetime popularity, then newest
        seen = {pk for pk, _ in ranked}
        rest = sellable.exclude(pk__in=seen).order_by("-purchase_count", "-cart_count", "-view_count", "-created")
        ranked += [(pk, 0.0) for pk in rest.values_list("pk", flat=True)[: limit - len(ranked)]]
    return ranked


def _window_start(kind: str, since, max_events: int):
    """`since`, or later when this type has more than max_events events since then: the
    timestamp of its max_events-th latest one (read through the (type, timestamp) index)."""
    nth = (Event.objects.filter(type=kind, timestamp__gte=since).order_by("-timestamp")
           .values_list("timestamp", flat=True)[max_events - 1:max_events])
    return max([since, *nth])


def trending(limit: int = LIMIT) -> list[tuple[int, float]]:
    return _local.get(CACHE_KEY, _shared_trending)[:limit]


def _shared_trending() -> list[tuple[int, float]]:
    ranked = cache.get(CACHE_KEY)
    if ranked is None:
        ranked = compute_trending()
        cache.set(CACHE_KEY, ranked, int(_setting("RECOMMENDER_TRENDING_CACHE_SECONDS", 60)))
    return ranked


def forget() -> None:
    _local.clear()
    cache.delete(CACHE_KEY)
