from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db.models import Avg, Count

from shop.demo import StoreNotEmpty, seed
from shop.demo.catalog import COMPLEMENTS
from shop.models import Category, Customer, Event, Follow, Order, Product, Review

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
SMALL = dict(customers=40, products=160, days=14, seed=3, now=NOW)


def fingerprint() -> list:
    """The generated data, without database ids (which depend on what was there before)."""
    name = dict(Customer.objects.values_list("pk", "user__username"))
    title = dict(Product.objects.values_list("pk", "title"))
    events = [(e.type, name.get(e.customer_id), title.get(e.product_id), e.query, e.timestamp.isoformat())
              for e in Event.objects.order_by("timestamp", "type", "customer__user__username", "product__title", "query")]
    products = sorted(Product.objects.values_list("title", "price", "stock", "category__slug", "view_count"))
    follows = sorted((name[f.follower_id], name[f.followee_id]) for f in Follow.objects.all())
    reviews = sorted((name[r.customer_id], title[r.product_id], r.rating, r.text) for r in Review.objects.all())
    return [events, products, follows, reviews]


def test_same_seed_gives_the_same_data_and_another_seed_does_not():
    first_counts = seed(**SMALL)
    first = fingerprint()
    assert seed(**SMALL, flush=True) == first_counts and fingerprint() == first
    seed(**{**SMALL, "seed": 4}, flush=True)
    assert fingerprint() != first


def test_counts_and_the_shape_of_the_store():
    counts = seed(customers=60, products=300, days=30, seed=1, now=NOW)
    assert counts["events"] == Event.objects.count() and counts["customers"] == Customer.objects.count() == 60
    assert 60 * 75 * 0.9 <= counts["events"] <= 60 * 75 * 1.15  # about 75 events per customer
    assert Category.objects.filter(parent=None).count() >= 12
    assert not Category.objects.filter(parent__isnull=False, products__isnull=True).exists()
    assert Customer.objects.filter(marketing_opt_in=False).exists()
    types = Counter(Event.objects.values_list("type", flat=True))
    assert types["view"] > types["add_to_cart"] > types["purchase"] > 0  # the funnel drops off
    assert types["search"] and types["follow"] and types["review"] and types["remove_from_cart"]
    assert Order.objects.count() == counts["orders"] > 0
    assert all(e.timestamp <= NOW for e in Event.objects.order_by("-timestamp")[:1])
    # Counters match the events they count.
    product = Product.objects.order_by("-view_count").first()
    assert product.view_count == Event.objects.filter(type="view", product=product).count()


def test_reviews_agree_with_their_rating():
    seed(customers=80, products=200, days=60, seed=2, now=NOW)
    by_rating = dict(Review.objects.values("rating").annotate(s=Avg("sentiment")).values_list("rating", "s"))
    assert by_rating.get(5, 1) > 0.5 and by_rating.get(1, -1) < -0.5
    ratings = sorted(by_rating)
    assert [by_rating[r] for r in ratings] == sorted(by_rating[r] for r in ratings)


def test_purchases_in_a_session_follow_complementary_categories():
    """camera -> memory card -> camera bag: each next purchase in a session complements the last."""
    seed(customers=150, products=400, days=30, seed=5, now=NOW)
    sessions = defaultdict(list)
    purchases = Event.objects.filter(type="purchase").order_by("timestamp", "pk")
    for key, category in purchases.values_list("session_key", "product__category__name"):
        sessions[key].append(category)
    chains = [(a, b) for bought in sessions.values() for a, b in zip(bought, bought[1:])]
    assert len(chains) > 20
    assert all(b in COMPLEMENTS[a] for a, b in chains), chains


def test_social_graph_is_skewed_and_homophilous():
    seed(customers=300, products=100, days=10, seed=6, now=NOW, events=300 * 40)
    in_degrees = sorted(Customer.objects.annotate(n=Count("follows_in")).values_list("n", flat=True), reverse=True)
    assert in_degrees[0] >= 8 * (sum(in_degrees) / len(in_degrees))  # a few customers are followed by many
    favourite = {}
    for customer, category in Event.objects.filter(type="view").exclude(customer=None).values_list(
            "customer", "product__category__parent__name"):
        favourite.setdefault(customer, Counter())[category] += 1
    favourite = {c: counts.most_common(1)[0][0] for c, counts in favourite.items()}
    follows = list(Follow.objects.values_list("follower_id", "followee_id"))
    same = sum(favourite.get(a) == favourite.get(b) for a, b in follows) / len(follows)
    customers = sorted(favourite)
    strangers = [(a, b) for a, b in zip(customers, customers[7:] + customers[:7])]
    chance = sum(favourite[a] == favourite[b] for a, b in strangers) / len(strangers)
    assert same > 2 * chance  # friends share tastes far more than strangers


def test_merchandiser_account_and_refusing_a_full_store():
    seed(customers=5, products=60, days=3, seed=1, now=NOW)
    user = User.objects.get(username="merchandiser")
    assert user.is_staff and user.check_password("merchandiser") and user.groups.filter(name="merchandiser").exists()
    with pytest.raises(StoreNotEmpty):
        seed(customers=5, products=60, days=3, seed=1, now=NOW)


def test_command_seeds_prints_the_login_and_honours_if_empty(capsys):
    call_command("seed_demo", "--customers", "5", "--products", "60", "--days", "3", verbosity=0)
    out = capsys.readouterr().out
    assert "5 customers" in out and "merchandiser / merchandiser" in out
    call_command("seed_demo", "--if-empty", verbosity=0)
    assert "not seeding" in capsys.readouterr().out and Customer.objects.count() == 5
    with pytest.raises(CommandError, match="already has"):
        call_command("seed_demo", "--customers", "5", "--products", "60", verbosity=0)


@pytest.mark.parametrize("customers, products", [(1, 1), (2, 13), (40, 30), (12, 57)])
def test_small_stores_seed_with_every_category_stocked(customers, products):
    counts = seed(customers=customers, products=products, days=3, seed=9, now=NOW)
    assert Customer.objects.count() == customers and Product.objects.count() == products
    assert counts["events"] == Event.objects.count() > 0
    leaves = Category.objects.filter(parent__isnull=False)
    assert not leaves.filter(products__isnull=True).exists()  # no empty category pages
    assert not Category.objects.filter(parent=None, children__isnull=True).exists()
    assert leaves.count() == min(products, 56)
    # A small catalogue still spans as many top categories as it can (one leaf each first).
    assert Category.objects.filter(parent=None).count() == min(products, 14)


def test_small_store_sessions_follow_only_complements_that_exist():
    seed(customers=40, products=30, days=14, seed=3, now=NOW)
    assert Event.objects.filter(type="purchase").exists() and Follow.objects.exists()
    stocked = set(Category.objects.filter(parent__isnull=False).values_list("name", flat=True))
    bought = Event.objects.filter(type="purchase").values_list("product__category__name", flat=True)
    assert set(bought) <= stocked


@pytest.mark.parametrize("bad", [{"customers": 0}, {"products": 0}, {"days": 0}, {"customers": -5},
                                 {"products": -1}, {"events": 0}, {"customers": 2.5}])
def test_nonsense_sizes_are_refused_naming_the_size(bad):
    sizes = {"customers": 5, "products": 5, "days": 3, **bad}
    field = next(iter(bad))
    with pytest.raises(ValueError, match=rf"^{field}: must be a whole number of at least 1"):
        seed(**sizes, seed=1, now=NOW)
    assert not Product.objects.exists() and not Category.objects.exists()


def test_command_reports_a_bad_size_as_a_command_error():
    with pytest.raises(CommandError, match="products: must be a whole number of at least 1, got 0"):
        call_command("seed_demo", "--customers", "5", "--products", "0", verbosity=0)
