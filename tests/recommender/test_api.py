"""The recommender's REST API: validation, permissions, schema."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender.models import ModelVersion, TrainingRun
from shop.models import Customer, Product

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


def customer_client(customer) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=customer.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_customer_reads_own_recommendations_with_token(small_store):
    customer = Customer.objects.first()
    response = customer_client(customer).get(f"/api/customers/{customer.pk}/recommendations?widget=home&n=3")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "trending" and body["reason"] == "no active model" and body["widget"] == "home"
    assert [item["rank"] for item in body["items"]] == [1, 2, 3]
    assert set(body["items"][0]["product"]) == {"id", "title", "price", "url"}
    assert body["items"][0]["explanation"]["text"]


def test_other_customers_and_anonymous_are_refused(small_store, client):
    alice, bob = Customer.objects.all()[:2]
    assert customer_client(alice).get(f"/api/customers/{bob.pk}/recommendations").status_code == 403
    assert client.get(f"/api/customers/{bob.pk}/recommendations").status_code in (401, 403)


def test_staff_reads_anyones_and_unknown_customer_is_404(small_store, client, staff_user):
    client.force_authenticate(staff_user)
    customer = Customer.objects.first()
    assert client.get(f"/api/customers/{customer.pk}/recommendations").status_code == 200
    assert client.get("/api/customers/999999/recommendations").status_code == 404


@pytest.mark.parametrize("query, field", [("widget=nope", "widget"), ("n=0", "n"), ("n=51", "n"), ("n=abc", "n")])
def test_bad_query_is_400_naming_the_field(small_store, client, staff_user, query, field):
    client.force_authenticate(staff_user)
    customer = Customer.objects.first()
    response = client.get(f"/api/customers/{customer.pk}/recommendations?{query}")
    assert response.status_code == 400 and field in response.json()


def test_related_products_is_public_and_validates_n(small_store, client):
    product = Product.objects.order_by("-purchase_count").first()
    response = client.get(f"/api/products/{product.pk}/related?n=4")
    assert response.status_code == 200
    ids = [item["product"]["id"] for item in response.json()["items"]]
    assert len(ids) == 4 and product.pk not in ids
    assert client.get(f"/api/products/{product.pk}/related?n=-1").status_code == 400
    assert client.get("/api/products/999999/related").status_code == 404


def test_retrain_is_staff_only_and_a_second_request_gets_409(db, client, staff_user, django_capture_on_commit_callbacks):
    customer_user = get_user_model().objects.create_user("shopper")
    client.force_authenticate(customer_user)
    assert client.post("/api/model/retrain").status_code == 403
    client.force_authenticate(staff_user)
    with django_capture_on_commit_callbacks(execute=False):
        first = client.post("/api/model/retrain")
        second = client.post("/api/model/retrain")
    assert first.status_code == 202 and first.json()["state"] == "queued"
    assert second.status_code == 409 and "already queued" in second.json()["detail"]
    assert second.json()["running"] == first.json()["id"]
    assert TrainingRun.objects.count() == 1


def test_versions_list_is_staff_only(db, client, staff_user):
    ModelVersion.objects.create(status=ModelVersion.Status.READY, metrics={"validation": {"ndcg@10": 0.1}})
    assert client.get("/api/model/versions").status_code in (401, 403)
    client.force_authenticate(staff_user)
    body = client.get("/api/model/versions").json()
    assert body[0]["status"] == "ready" and body[0]["label"].startswith("model:")


def test_endpoints_are_in_the_openapi_schema(db, client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/customers/{customer_id}/recommendations", "/api/products/{product_id}/related",
                 "/api/model/retrain", "/api/model/versions"):
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/customers/{customer_id}/recommendations"]["get"]["parameters"]}
    assert {"widget", "n"} <= params
