"""What keeps a recommendation request cheap: per-process caches, bounded reads, a plain body."""
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender import local_cache, serving, trending
from recommender.api import RecommendationResultSerializer, result_data
from recommender.models import Recommendation
from shop import authentication
from shop.models import Category, Customer, Event, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    settings.RECOMMENDER_SERVING_CACHE_SECONDS = 60
    settings.RECOMMENDER_MATERIALIZED_CACHE_SECONDS = 60
    settings.API_TOKEN_CACHE_SECONDS = 10
    serving.forget()
    authentication.forget()
    yield settings
    serving.forget()
    authentication.forget()


def test_ttl_map_loads_only_missing_or_expired_keys(cached, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(local_cache.time, "monotonic", lambda: clock[0])
    loads = []
    memo = local_cache.TTLMap()

    def load(keys):
        loads.append(sorted(keys))
        return {k: k * 10 for k in keys}

    assert memo.get_many([1, 2], load) == {1: 10, 2: 20}
    assert memo.get_many([2, 3], load) == {2: 20, 3: 30}
    clock[0] += 61
    memo.get_many([1], load)
    assert loads == [[1, 2], [3], [1]]


def test_ttl_map_with_zero_seconds_always_loads(settings):
    settings.RECOMMENDER_SERVING_CACHE_SECONDS = 0
    calls = []
    memo = local_cache.TTLMap()
    memo.get(1, lambda: calls.append(1) or "x")
    memo.get(1, lambda: calls.append(1) or "x")
    assert calls == [1, 1]


def test_product_facts_are_cached_until_forgotten(small_store, cached):
    product = Product.objects.filter(stock__gt=0, active=True).first()
    assert serving.product_facts([product.pk])[product.pk].sellable
    Product.objects.filter(pk=product.pk).update(stock=0)
    assert serving.product_facts([product.pk])[product.pk].sellable  # within the TTL: as read
    serving.forget()
    assert not serving.product_facts([product.pk])[product.pk].sellable


def materialized_customer(version) -> Customer:
    return Customer.objects.get(pk=Recommendation.objects.filter(model_version=version)
                                .values_list("customer_id", flat=True).first())


def test_warm_request_of_a_materialized_customer_needs_few_queries(active_version, cached, client,
                                                                    django_assert_max_num_queries):
    customer = materialized_customer(active_version)
    customer.user.set_password("pw")
    customer.user.save()
    client.login(username=customer.user.username, password="pw")
    url = f"/api/customers/{customer.pk}/recommendations?n=5"
    cached.RECOMMENDER_ACTIVE_CHECK_SECONDS = 60  # the active version id was read just now
    assert client.get(url).status_code == 200
    # session + user, events since the list, stored explanations (no click: the list as scored)
    with django_assert_max_num_queries(4):
        body = client.get(url).json()
    assert body["source"] == active_version.label and len(body["items"]) == 5


def test_warm_token_request_after_a_click_reads_only_the_events_since_the_list(active_version, cached,
                                                                              django_assert_num_queries):
    """The load test's request: token auth, a materialized customer with a view since."""
    customer = materialized_customer(active_version)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=customer.user).key}")
    url = f"/api/customers/{customer.pk}/recommendations?n=5"
    cached.RECOMMENDER_ACTIVE_CHECK_SECONDS = 60
    first = api.get(url).json()
    Event.objects.create(type="view", customer=customer, product_id=first["items"][0]["product"]["id"])
    api.get(url)  # warms the session vectors' names and the new products
    with django_assert_num_queries(1):
        body = api.get(url).json()
    assert body["source"] == active_version.label and len(body["items"]) == 5
    assert body["items"][0]["explanation"]["recent_items"]  # explained from the re-ranked state


def test_a_cached_list_still_reranks_on_a_click_and_drops_a_purchase_at_once(active_version, cached):
    customer = materialized_customer(active_version)
    before = serving.recommend(customer=customer, n=8)
    assert serving.materialized(customer, active_version.pk)  # the list is cached now
    clicked = Product.objects.filter(stock__gt=0, active=True).exclude(pk__in=before.product_ids).last()
    Event.objects.create(type="view", customer=customer, product=clicked)
    after_click = serving.recommend(customer=customer, n=8)
    assert after_click.product_ids != before.product_ids and clicked.pk not in after_click.product_ids
    bought = after_click.product_ids[0]
    Event.objects.create(type="purchase", customer=customer, product_id=bought)
    assert bought not in serving.recommend(customer=customer, n=8).product_ids


def test_a_newer_materialization_is_served_once_the_cached_list_expires(active_version, cached):
    """refresh_customer runs on a worker: other processes serve their cached list (plus every
    event since it) until RECOMMENDER_MATERIALIZED_CACHE_SECONDS pass; here forget() stands in."""
    customer = materialized_customer(active_version)
    old = serving.materialized(customer, active_version.pk)
    Recommendation.objects.filter(customer=customer).update(created=timezone.now())
    assert serving.materialized(customer, active_version.pk) == old
    serving.forget()
    assert serving.materialized(customer, active_version.pk)[0][3] > old[0][3]
    assert serving.materialized(customer, active_version.pk + 1) == []  # another version: its own key


def test_plain_body_matches_the_documented_serializer(active_version):
    customer = Customer.objects.get(pk=Recommendation.objects.filter(model_version=active_version)
                                    .values_list("customer_id", flat=True).first())
    result = serving.recommend(customer=customer, n=4)
    assert result.items
    assert result_data(result) == RecommendationResultSerializer(result).data


def test_co_purchases_read_the_latest_buyers_and_are_cached(small_store, monkeypatch,
                                                           django_assert_num_queries):
    category = Category.objects.create(name="Bench", slug="bench")
    tent, mat, stove = (Product.objects.create(title=t, category=category, price="5", stock=3)
                        for t in ("Tent", "Mat", "Stove"))
    users = [get_user_model().objects.create_user(name) for name in ("old", "new")]
    old, new = (Customer.objects.create(user=u, display_name=u.username) for u in users)
    now = timezone.now()
    for customer, product, days in [(old, tent, 9), (old, mat, 9), (new, tent, 1), (new, stove, 1)]:
        Event.objects.create(type="purchase", customer=customer, product=product,
                             timestamp=now - timezone.timedelta(days=days))
    assert serving.co_purchase_counts(tent.pk) == {mat.pk: 1, stove.pk: 1}
    with django_assert_num_queries(0):
        serving.co_purchase_counts(tent.pk)
    monkeypatch.setattr(serving, "CO_PURCHASE_BUYERS", 1)
    assert serving.co_purchase_counts(mat.pk) == {tent.pk: 1}
    assert serving.co_purchase_counts(stove.pk, limit=5) == {tent.pk: 1}
    assert serving._count_co_purchases(tent.pk, 5) == {stove.pk: 1}  # only the latest buyer


def test_trending_counts_only_each_types_latest_events_when_bounded(db, settings):
    category = Category.objects.create(name="Bench", slug="bench")
    steady, fresh = (Product.objects.create(title=t, category=category, price="5", stock=3) for t in ("Steady", "Fresh"))
    now = timezone.now()
    for hours in (30, 31, 32, 33):
        Event.objects.create(type="view", product=steady, session_key="s", timestamp=now - timezone.timedelta(hours=hours))
    for minutes in (1, 2):
        Event.objects.create(type="view", product=fresh, session_key="s", timestamp=now - timezone.timedelta(minutes=minutes))
    assert [pid for pid, _ in trending.compute_trending()][:2] == [steady.pk, fresh.pk]
    settings.RECOMMENDER_TRENDING_MAX_EVENTS = 2
    ranked = trending.compute_trending()
    assert ranked[0][0] == fresh.pk and dict(ranked)[steady.pk] == 0.0
