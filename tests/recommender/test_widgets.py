"""Store widgets: cards through the click-tracking redirect, "Why this?", impressions."""
import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from shop.models import Customer, Event, Product

pytestmark = pytest.mark.django_db


def render(widget: str, user=None, **kwargs) -> str:
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.db import SessionStore

    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = SessionStore()
    args = " ".join(f"{k}={k}" for k in kwargs)
    template = Template('{% load recs %}{% recommendations "' + widget + '" ' + args + ' n=4 title="Picks" %}')
    return template.render(Context({"request": request, **kwargs}))


def test_widget_renders_cards_and_logs_one_impression_each(small_store):
    customer = Customer.objects.first()
    html = render("home", user=customer.user)
    links = re.findall(r'href="(/r/home/(\d+)/\?src=([^"]+))"', html)
    assert len(links) == 4 and all(src == "trending" for _, _, src in links)
    assert html.count("Why this?") == 4 and "<h2>Picks</h2>" in html
    impressions = Event.objects.filter(type=Event.Type.REC_IMPRESSION, customer=customer)
    assert sorted(impressions.values_list("product_id", flat=True)) == sorted(int(pid) for _, pid, _ in links)
    assert set(impressions.values_list("widget", "model_version")) == {("home", "trending")}


def test_product_widget_excludes_the_product_itself(small_store):
    product = Product.objects.order_by("-purchase_count").first()
    html = render("also_bought", product=product)
    assert f"/r/also_bought/{product.pk}/" not in html and html.count("data-product-id") == 4


def test_unknown_widget_renders_nothing_and_logs_nothing(small_store):
    assert render("nope").strip() == ""
    assert not Event.objects.filter(type=Event.Type.REC_IMPRESSION).exists()


def test_click_redirect_records_rec_click_and_goes_to_the_product(small_store, client):
    product = Product.objects.first()
    customer = Customer.objects.first()
    client.force_login(customer.user)
    response = client.get(f"/r/home/{product.pk}/?src=model:3")
    assert response.status_code == 302 and response["Location"] == product.get_absolute_url()
    click = Event.objects.get(type=Event.Type.REC_CLICK)
    assert (click.customer, click.product, click.widget, click.model_version) == (customer, product, "home", "model:3")
    assert client.get("/r/home/999999/").status_code == 404


def test_why_page_explains_in_plain_words(small_store, client):
    from recommender import serving

    product_id = serving.recommend(widget="home", n=1).product_ids[0]
    response = client.get(f"/why/home/{product_id}/")
    assert response.status_code == 200 and b"Popular in the store right now" in response.content


def test_plain_words_uses_only_what_the_explanation_holds():
    from recommender.explanations import plain_words

    words = plain_words({"signals": {"graph": 0.2, "social": 0.5, "sequence": 0.3},
                         "friends": [{"user": "Ann", "weight": 0.9, "interacted_with_item": True}],
                         "recent_items": [{"item": "Tent", "weight": 0.7}], "text": "Because your friend Ann bought it"})
    assert words["headline"] == "Because your friend Ann bought it"
    assert words["reasons"][0] == ("It is based on the people you follow (50%), what you looked at recently (30%), "
                                   "what shoppers with similar taste bought (20%).")
    assert "You recently viewed Tent." in words["reasons"] and "People you follow (Ann) also chose this." in words["reasons"]
    assert plain_words({}) == {"headline": "Popular in the store right now", "reasons": []}


def test_shopper_words_name_the_items_and_friends_the_model_refers_to_by_id(small_store):
    from recommender.explanations import plain_words, with_names_many
    from shop.models import Customer, Product

    product = Product.objects.order_by("pk").first()
    friend = Customer.objects.order_by("pk").first()
    raw = {"recent_items": [{"item": str(product.pk), "weight": 0.8}],
           "friends": [{"user": str(friend.pk), "weight": 1.0, "interacted_with_item": True}]}
    named = with_names_many([raw, {}])
    assert named[0]["recent_items"][0] == {"item": product.title, "weight": 0.8}
    assert named[0]["friends"][0]["user"] == friend.display_name
    assert f"You recently viewed {product.title}." in plain_words(named[0])["reasons"]
    assert named[1] == {"friends": [], "recent_items": []}
