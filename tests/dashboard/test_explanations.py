"""The customer page's explanation figures carry the model's own weights for that customer."""
import json

import pytest
from django.urls import reverse

from dashboard import explanations, figures
from recommender import serving
from recommender.active_model import active_model
from recommender.models import Recommendation
from shop.models import Customer, Follow


def test_figures_plot_exactly_the_explanation():
    explanation = {
        "signals": {"graph": 0.5, "social": 0.3, "sequence": 0.2},
        "friends": [{"user": "Bo", "weight": 0.7, "interacted_with_item": True},
                    {"user": "Cy", "weight": 0.3, "interacted_with_item": False}],
        "recent_items": [{"item": "Hat", "weight": 0.25}, {"item": "Boot", "weight": 0.75}],
    }
    figs = figures.explanation_figures(explanation)
    assert list(figs["signals"].data[0].x) == [0.5, 0.3, 0.2]
    assert list(figs["signals"].data[0].y) == ["graph", "social", "sequence"]
    assert list(figs["friends"].data[0].x) == [0.7, 0.3] and list(figs["friends"].data[0].y) == ["Bo", "Cy"]
    assert [list(row) for row in figs["recent"].data[0].z] == [[0.25, 0.75]]
    assert figures.explanation_figures({"text": "Popular in the store right now"}) == {}


def customer_with_friends(version):
    """A customer the model scored who follows someone, and their rank-1 explanation."""
    followers = set(Follow.objects.values_list("follower_id", flat=True))
    rec = (Recommendation.objects.filter(model_version=version, rank=1, customer_id__in=followers)
           .select_related("customer", "product").first())
    assert rec is not None, "the seeded store has followers the model scored"
    return rec.customer, rec


def test_customer_page_draws_the_models_weights(merch_client, trained):
    customer, top = customer_with_friends(trained)
    model = active_model().recommender
    response = merch_client.get(reverse("dashboard:customer", args=[customer.pk]))
    assert response.status_code == 200
    chosen = response.context["chosen"]
    # What the page explains is what the model says about this customer and item.
    own = model.explain(str(customer.pk), str(chosen["product"].pk), names=serving.display_names())
    assert chosen["explanation"]["signals"] == pytest.approx(own["signals"])
    assert chosen["source"] == trained.label
    signals = own["signals"]
    assert sum(signals.values()) == pytest.approx(1.0, abs=1e-3) and len(set(signals.values())) > 1
    page = response.content.decode()
    for name in ("signals", "friends", "recent"):
        if own.get({"signals": "signals", "friends": "friends", "recent": "recent_items"}[name]):
            assert f'data-figure="{name}"' in page
    html = response.context["explanation_figures"]["signals"]
    for value in [signals[s] for s in ("graph", "social", "sequence")]:
        assert json.dumps(value) in html
    if own["friends"]:  # drawn under their display names, with the model's weights
        friends_html = response.context["explanation_figures"]["friends"]
        first = Customer.objects.get(pk=int(own["friends"][0]["user"]))
        assert first.display_name in friends_html and json.dumps(own["friends"][0]["weight"]) in friends_html
    assert chosen["text"] and chosen["text"] in page


def test_network_edges_are_the_models_social_attention(trained):
    customer, top = customer_with_friends(trained)
    attention = explanations.social_attention([customer.pk])
    # The model names friends by customer id; every one of them is someone this customer follows.
    followees = set(Follow.objects.filter(follower=customer).values_list("followee_id", flat=True))
    expected = {(customer.pk, int(f["user"])): f["weight"] for f in top.explanation["friends"]}
    assert expected and {b for _, b in expected} <= followees
    assert attention == pytest.approx(expected)


def test_what_if_returns_the_re_ranked_list(merch_client, trained):
    customer, top = customer_with_friends(trained)
    viewed = Recommendation.objects.filter(model_version=trained, customer=customer, rank=5).get().product
    response = merch_client.get(reverse("dashboard:what_if", args=[customer.pk]), {"product": viewed.pk})
    data = response.json()
    assert response.status_code == 200 and data["hypothetical_views"] == [viewed.pk]
    expected = serving.what_if(customer, [viewed.pk], 8)
    assert [i["product"] for i in data["items"]] == expected.product_ids
    assert data["source"] == trained.label
    plain = serving.recommend(customer=customer, n=8)
    assert [i["score"] for i in data["items"]] != [i.score for i in plain.items]  # the state moved
    assert 'data-testid="rec-list"' in data["html"]
