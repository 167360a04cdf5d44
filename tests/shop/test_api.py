from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shop.models import Event, Product

pytestmark = pytest.mark.django_db
URL = "/api/events/"


@pytest.fixture
def api(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice.user).key}")
    return client


@pytest.fixture
def staff_api(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("feed", password="pw", is_staff=True))
    return client


def test_one_event_with_a_token_is_recorded_for_its_customer(store, alice, api):
    response = api.post(URL, {"type": "view", "product": store["bag"].pk}, format="json")
    assert response.status_code == 201 and response.json()["created"] == 1
    event = Event.objects.get(pk=response.json()["ids"][0])
    assert event.customer == alice and event.product == store["bag"]
    assert Product.objects.get(pk=store["bag"].pk).view_count == 1


def test_a_batch_is_recorded_with_its_timestamps(store, alice, api):
    when = timezone.now() - timedelta(days=2)
    batch = [{"type": "view", "product": store["camera"].pk, "timestamp": when.isoformat()},
             {"type": "search", "query": "tent"},
             {"type": "add_to_cart", "product": store["camera"].pk, "metadata": {"quantity": 1}}]
    response = api.post(URL, batch, format="json")
    assert response.status_code == 201 and response.json()["created"] == 3
    assert Event.objects.get(type="view").timestamp == when
    assert Event.objects.get(type="search").query == "tent"


@pytest.mark.parametrize("item, field, reason", [
    ({"type": "view", "product": 999999}, "product", "unknown product"),
    ({"type": "view", "product": "PRODUCT", "customer": 999999}, "product", "valid integer"),
    ({"type": "follow", "customer": 999999}, "customer", "unknown customer"),
    ({"type": "teleport", "product": "BAG"}, "type", "not a valid choice"),
    ({"type": "view", "product": "BAG", "timestamp": "yesterday"}, "timestamp", "Datetime has wrong format"),
    ({"type": "view", "product": "BAG", "timestamp": "2999-01-01T00:00:00Z"}, "timestamp", "in the future"),
    ({"type": "view"}, "product", "required for view events"),
    ({"type": "search", "query": " "}, "query", "required for search events"),
    ("not an object", "non_field_errors", "expected an event object"),
])
def test_each_bad_item_is_a_400_with_index_and_field_and_nothing_is_written(store, staff_api, item, field, reason):
    good = {"type": "view", "product": store["bag"].pk}
    if isinstance(item, dict):
        item = {k: (store["bag"].pk if v == "BAG" else v) for k, v in item.items()}
    response = staff_api.post(URL, [good, good, item], format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e["index"] == 2 and e["field"] == field and reason in e["reason"] for e in errors), errors
    assert all(e["index"] == 2 for e in errors)
    assert not Event.objects.exists()
    assert Product.objects.get(pk=store["bag"].pk).view_count == 0


def test_batch_over_1000_is_refused_whole(store, staff_api):
    batch = [{"type": "view", "product": store["bag"].pk}] * 1001
    response = staff_api.post(URL, batch, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 1000, "field": "batch",
                                          "reason": "a batch holds at most 1000 events; got 1001"}]
    assert not Event.objects.exists()


def test_a_batch_of_exactly_1000_is_accepted(store, staff_api):
    response = staff_api.post(URL, [{"type": "view", "product": store["bag"].pk}] * 1000, format="json")
    assert response.status_code == 201 and Event.objects.count() == 1000
    assert Product.objects.get(pk=store["bag"].pk).view_count == 1000


def test_customers_may_only_record_for_themselves(store, bob, api):
    response = api.post(URL, {"type": "view", "product": store["bag"].pk, "customer": bob.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "customer" and not Event.objects.exists()


def test_staff_feed_records_for_any_customer(store, bob, staff_api):
    response = staff_api.post(URL, {"type": "purchase", "product": store["bag"].pk, "customer": bob.pk}, format="json")
    assert response.status_code == 201 and Event.objects.get().customer == bob


def test_anonymous_posting_is_refused(store):
    assert APIClient().post(URL, {"type": "view", "product": store["bag"].pk}, format="json").status_code in (401, 403)


def test_empty_batch_is_a_400(staff_api):
    assert staff_api.post(URL, [], format="json").json()["errors"][0]["field"] == "batch"


def test_products_list_filters_and_detail(store, client):
    def titles(**params):
        return [p["title"] for p in client.get("/api/products/", params).json()["results"]]

    assert len(titles()) == 3
    assert set(titles(category="cameras-photo")) == {"Lumina Mirrorless Camera X100", "Lumina Sling Bag"}
    assert titles(brand="brewhaus") == ["Brewhaus Espresso Machine"]
    assert titles(min_price="300", max_price="400") == ["Brewhaus Espresso Machine"]
    assert titles(q="sling bag") == ["Lumina Sling Bag"]
    detail = client.get(f"/api/products/{store['bag'].pk}/").json()
    assert detail["category"] == "camera-bags" and detail["image_url"].endswith(f"/products/{store['bag'].pk}/image.svg")


@pytest.mark.parametrize("params, field", [({"min_price": "cheap"}, "min_price"), ({"category": "nope"}, "category"),
                                           ({"min_price": "10", "max_price": "5"}, "max_price")])
def test_bad_product_filters_are_a_400_naming_the_field(store, client, params, field):
    response = client.get("/api/products/", params)
    assert response.status_code == 400 and field in response.json()


def test_anonymous_api_use_is_throttled(store, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    cache.clear()
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    codes = [client.get("/api/products/").status_code for _ in range(3)]
    cache.clear()
    assert codes == [200, 200, 429]


def test_schema_documents_the_endpoints(db, client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert {"/api/events/", "/api/products/", "/api/products/{id}/"} <= set(schema["paths"])
    assert "post" in schema["paths"]["/api/events/"]
    assert client.get("/api/docs/").status_code == 200
