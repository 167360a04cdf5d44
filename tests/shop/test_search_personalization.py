"""Search results are re-ranked for shoppers with history (recommender.serving.rerank_products)."""
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache
from django.db.models import Count
from django.urls import reverse

from recommender import active_model, serving, trending
from shop import catalogue
from shop.models import Customer, Event, Product
from tests.recommender.conftest import active_version, small_store, tiny_training  # noqa: F401

pytestmark = pytest.mark.django_db


def forget_recommender_state():
    active_model.forget()
    trending.forget()
    cache.clear()


@pytest.fixture(autouse=True)
def no_leaked_recommender_state():
    """Neither another test's model nor this module's (or its cached trending ids) may leak."""
    forget_recommender_state()
    yield
    forget_recommender_state()


@pytest.fixture
def lamps(store):
    kitchen = store["categories"]["kitchen"]
    # Relevance: title hits ("lamp" twice) first, then description-only hits.
    titles = ["Desk Lamp Lamp", "Floor Lamp", "Reading Light", "Night Light"]
    descriptions = ["A lamp.", "A lamp.", "Works like a lamp.", "Softer than a lamp."]
    return [Product.objects.create(title=t, description=d, category=kitchen, price=Decimal("20"), stock=3)
            for t, d in zip(titles, descriptions)]


def search_titles(client, query="lamp"):
    response = client.get(reverse("shop:search"), {"q": query})
    assert response.status_code == 200
    shown = [p.title for p in response.context["page"]]
    html = response.content.decode()
    positions = [html.index(f"<h3>{title}</h3>") for title in shown]
    assert positions == sorted(positions)  # the page renders them in this order
    return shown


def reversed_order(customer, session_key, products):
    return list(reversed(products))


def test_a_customer_gets_the_recommender_order_of_the_page(lamps, alice, alice_client):
    with mock.patch.object(serving, "rerank_products", side_effect=reversed_order) as rerank:
        shown = search_titles(alice_client)
    relevance = [p.title for p in rerank.call_args.args[2]]
    customer, session_key, _ = rerank.call_args.args
    assert customer == alice and session_key == alice_client.session.session_key
    assert relevance[:2] == ["Desk Lamp Lamp", "Floor Lamp"] and len(relevance) == 4
    assert shown == relevance[::-1]


def test_an_anonymous_visitor_is_reranked_only_once_the_session_has_product_history(lamps, client):
    with mock.patch.object(serving, "rerank_products", side_effect=reversed_order) as rerank:
        first = search_titles(client)  # creates the session and a search event: no product history
        assert rerank.call_count == 0
        client.get(lamps[3].get_absolute_url())  # a view: now there is history
        second = search_titles(client)
    assert rerank.call_count == 1 and rerank.call_args.args[0] is None
    assert rerank.call_args.args[1] == client.session.session_key
    assert second == first[::-1]


def test_without_a_model_the_real_rerank_keeps_the_relevance_order(lamps, alice, alice_client):
    assert active_model.active_model() is None
    client_titles = search_titles(alice_client)
    with mock.patch.object(serving, "rerank_products", wraps=serving.rerank_products) as rerank:
        again = search_titles(alice_client)
    assert rerank.call_count == 1  # the real function ran, and changed nothing
    assert again == client_titles and client_titles[:2] == ["Desk Lamp Lamp", "Floor Lamp"]


@pytest.mark.parametrize("failure", [RuntimeError("model exploded"), "drops a product"])
def test_a_failing_or_misbehaving_rerank_falls_back_to_relevance(lamps, alice, alice_client, failure):
    relevance = search_titles(alice_client)
    effect = failure if isinstance(failure, Exception) else (lambda c, s, products: products[1:])
    with mock.patch.object(serving, "rerank_products", side_effect=effect):
        assert search_titles(alice_client) == relevance


def test_with_a_trained_model_the_page_follows_the_models_order(
        active_version, client):
    customer = Event.objects.filter(type="purchase").values_list("customer", flat=True).first()
    client.force_login(Customer.objects.get(pk=customer).user)
    query = Product.objects.filter(active=True).values("brand__name").annotate(n=Count("pk")).order_by("-n")[0]
    relevance = list(catalogue.search(query["brand__name"])[:24])
    assert len(relevance) >= 5
    expected = [p.pk for p in serving.rerank_products(Customer.objects.get(pk=customer), "", relevance)]
    shown = [p.pk for p in client.get(reverse("shop:search"), {"q": query["brand__name"]}).context["page"]]
    assert shown == expected and sorted(shown) == sorted(p.pk for p in relevance)
    assert shown != [p.pk for p in relevance]  # the model did reorder this page
