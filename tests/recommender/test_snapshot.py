"""The database as an ml dataset: which events count, and how."""
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from recommender import snapshot
from shop.models import Brand, Category, Customer, Event, Follow, Product, Review

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    parent = Category.objects.create(name="Outdoor", slug="outdoor")
    tents = Category.objects.create(name="Tents", slug="tents", parent=parent)
    brand = Brand.objects.create(name="Acme", slug="acme")
    tent = Product.objects.create(title="Tent", category=tents, brand=brand, price="99.50", stock=3)
    mat = Product.objects.create(title="Mat", category=parent, price="10", stock=3)
    users = [get_user_model().objects.create_user(name) for name in ("ann", "bob")]
    ann, bob = (Customer.objects.create(user=u, display_name=u.username) for u in users)
    return tent, mat, ann, bob


def test_interactions_map_event_types_and_skip_anonymous_and_other_types(shop):
    tent, mat, ann, bob = shop
    now = timezone.now()
    for minutes, kind, customer, product in [(3, "view", ann, tent), (2, "add_to_cart", ann, tent),
                                            (1, "purchase", ann, tent), (0, "view", bob, mat)]:
        Event.objects.create(type=kind, customer=customer, product=product, timestamp=now - timezone.timedelta(minutes=minutes))
    Event.objects.create(type="view", session_key="anon", product=mat)
    Event.objects.create(type="rec_click", customer=ann, product=mat)
    Event.objects.create(type="search", customer=ann, query="tent")
    rows = list(snapshot.interactions())
    assert [(r.user_id, r.item_id, r.event) for r in rows] == [
        (str(ann.pk), str(tent.pk), "view"), (str(ann.pk), str(tent.pk), "cart"),
        (str(ann.pk), str(tent.pk), "purchase"), (str(bob.pk), str(mat.pk), "view")]
    assert rows[0].timestamp < rows[1].timestamp < rows[2].timestamp


def test_features_follows_and_reviews(shop):
    tent, mat, ann, bob = shop
    Follow.objects.create(follower=ann, followee=bob)
    Review.objects.create(customer=ann, product=tent, rating=5, text="I love this tent, it is wonderful")
    features = snapshot.product_features()
    assert features[str(tent.pk)] == {"category": "tents|outdoor", "brand": "acme", "price": 99.5,
                                       "title": "Tent"}
    assert features[str(mat.pk)] == {"category": "outdoor", "brand": "none", "price": 10.0, "title": "Mat"}
    assert list(snapshot.follows()) == [(str(ann.pk), str(bob.pk))]
    (user, item, sentiment), = snapshot.review_sentiments()
    assert (user, item) == (str(ann.pk), str(tent.pk)) and sentiment > 0.5


def test_take_snapshot_builds_the_dataset_with_every_product(small_store):
    snap = snapshot.take_snapshot()
    assert snap.dataset.n_items == Product.objects.count()
    assert snap.dataset.n_users == Customer.objects.filter(events__type__in=list(snapshot.EVENT_KINDS)).distinct().count()
    assert snap.stats["social_edges"] > 0 and snap.stats["taken_at"] == snap.taken_at.isoformat()
