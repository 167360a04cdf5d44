"""The database as a `recommender.ml` dataset.

Every query streams (`values_list(...).iterator(chunk_size=...)`) and feeds generators to
`ml.data.build_dataset`, so a store with millions of events never holds its rows as Django
model instances. Ids are strings: customers `str(customer.pk)`, products `str(product.pk)`.
"""
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from recommender.ml.data import Dataset, Interaction, build_dataset
from shop.models import Event, Follow, Product, Review

CHUNK_SIZE = 5000

# Store event type -> the ml interaction vocabulary (the model weights purchase > cart > view).
EVENT_KINDS = {
    Event.Type.VIEW: "view",
    Event.Type.ADD_TO_CART: "cart",
    Event.Type.PURCHASE: "purchase",
}


@dataclass
class Snapshot:
    dataset: Dataset
    taken_at: datetime
    stats: dict = field(default_factory=dict)


def interactions(until: datetime | None = None) -> Iterator[Interaction]:
    """Customers' view/cart/purchase events in time order (anonymous sessions are not users)."""
    rows = Event.objects.filter(type__in=list(EVENT_KINDS), customer__isnull=False, product__isnull=False)
    if until is not None:
        rows = rows.filter(timestamp__lte=until)
    rows = rows.order_by("timestamp", "pk").values_list("customer_id", "product_id", "timestamp", "type")
    for customer_id, product_id, timestamp, kind in rows.iterator(chunk_size=CHUNK_SIZE):
        yield Interaction(str(customer_id), str(product_id), timestamp.timestamp(), event=EVENT_KINDS[kind])


def follows() -> Iterator[tuple[str, str]]:
    rows = Follow.objects.order_by("pk").values_list("follower_id", "followee_id")
    for follower, followee in rows.iterator(chunk_size=CHUNK_SIZE):
        yield str(follower), str(followee)


def review_sentiments() -> Iterator[tuple[str, str, float]]:
    rows = Review.objects.order_by("pk").values_list("customer_id", "product_id", "sentiment")
    for customer_id, product_id, sentiment in rows.iterator(chunk_size=CHUNK_SIZE):
        yield str(customer_id), str(product_id), float(sentiment)


def product_features() -> dict[str, dict[str, object]]:
    """Category (with its parent, so siblings share a label), brand and price of every product;
    the title is not a feature, it names the product in the model's explanations."""
    rows = Product.objects.order_by("pk").values_list(
        "pk", "category__slug", "category__parent__slug", "brand__slug", "price", "title"
    )
    features: dict[str, dict[str, object]] = {}
    for pk, category, parent, brand, price, title in rows.iterator(chunk_size=CHUNK_SIZE):
        categories = "|".join(label for label in (category, parent) if label)
        features[str(pk)] = {"category": categories, "brand": brand or "none", "price": float(price), "title": title}
    return features


def take_snapshot(name: str = "store") -> Snapshot:
    """Everything up to now; events recorded later are 'since the snapshot' for serving."""
    taken_at = timezone.now()
    dataset = build_dataset(
        interactions(until=taken_at),
        social=follows(),
        reviews=review_sentiments(),
        items=product_features(),
        name=name,
    )
    stats = dict(getattr(dataset, "stats", {}) or {})
    stats["taken_at"] = taken_at.isoformat()
    return Snapshot(dataset=dataset, taken_at=taken_at, stats=stats)

