"""Serving: materialized list -> real-time re-rank -> rules -> filters -> trending, and the
fallbacks, each saying which source served."""
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from recommender import serving
from recommender.models import MerchandisingRule, Recommendation
from shop.models import Customer, Event, Follow, Product
from tests.recommender.conftest import seed_small_store

pytestmark = pytest.mark.django_db


def scored_customer(version) -> Customer:
    return Recommendation.objects.filter(model_version=version).first().customer


def test_without_a_model_trending_serves_sellable_products_and_says_why(small_store):
    product = Product.objects.order_by("-purchase_count").first()
    result = serving.recommend(customer=None, widget="home", n=8)
    assert result.source == "trending" and result.reason == "no active model"
    assert len(result.items) == 8 and [i.rank for i in result.items] == list(range(1, 9))
    Product.objects.filter(pk__in=result.product_ids[:2]).update(stock=0)
    Product.objects.filter(pk=result.product_ids[2]).update(active=False)
    from recommender import trending

    trending.forget()
    again = serving.recommend(widget="home", n=8)
    assert not set(result.product_ids[:3]) & set(again.product_ids)
    assert product is not None


def test_materialized_list_is_served_with_model_source_and_explanations(active_version):
    customer = scored_customer(active_version)
    result = serving.recommend(customer=customer, widget="home", n=6)
    expected = list(Recommendation.objects.filter(customer=customer, model_version=active_version)
                    .order_by("rank").values_list("product_id", flat=True))
    sellable = [pid for pid in expected if Product.objects.get(pk=pid).in_stock]
    assert result.source == f"model:{active_version.pk}" and result.reason == ""
    assert result.product_ids == sellable[:6]
    assert all(item.explanation.get("text") for item in result.items)


def test_a_view_since_materialization_reranks_the_list(active_version):
    customer = scored_customer(active_version)
    before = serving.recommend(customer=customer, widget="home", n=8)
    clicked = Product.objects.exclude(pk__in=before.product_ids).filter(stock__gt=0, active=True).last()
    imagined = serving.what_if(customer, [clicked.pk], n=8)  # nothing recorded yet
    assert serving.recommend(customer=customer, widget="home", n=8).product_ids == before.product_ids
    Event.objects.create(type=Event.Type.VIEW, customer=customer, product=clicked, timestamp=timezone.now())
    after = serving.recommend(customer=customer, widget="home", n=8)
    assert after.source == f"model:{active_version.pk}"
    assert after.product_ids != before.product_ids and clicked.pk not in after.product_ids
    assert any(item.explanation.get("recent_items") for item in after.items)
    assert imagined.product_ids == after.product_ids


def test_purchased_and_out_of_stock_products_are_dropped(active_version):
    customer = scored_customer(active_version)
    first, second = serving.recommend(customer=customer, n=8).product_ids[:2]
    Event.objects.create(type=Event.Type.PURCHASE, customer=customer, product_id=first)
    Product.objects.filter(pk=second).update(stock=0)
    result = serving.recommend(customer=customer, n=8)
    assert first not in result.product_ids and second not in result.product_ids
    assert len(result.items) == 8


def test_merchandising_rules_apply_to_the_served_list(active_version):
    customer = scored_customer(active_version)
    ids = serving.recommend(customer=customer, n=8).product_ids
    outsider = Product.objects.filter(stock__gt=0, active=True).exclude(pk__in=ids).first()
    MerchandisingRule.objects.create(name="recall", action="exclude", product_id=ids[0])
    MerchandisingRule.objects.create(name="feature", action="pin", product=outsider, position=1, widget="home")
    MerchandisingRule.objects.create(name="other widget", action="pin", product_id=ids[1], position=1,
                                     widget="cart")
    MerchandisingRule.objects.create(name="expired", action="exclude", product_id=ids[2],
                                     ends=timezone.now() - timezone.timedelta(days=1),
                                     starts=timezone.now() - timezone.timedelta(days=2))
    result = serving.recommend(customer=customer, n=8)
    assert result.product_ids[0] == outsider.pk
    assert ids[0] not in result.product_ids and ids[2] in result.product_ids
    # preview: unsaved rules, same code path, nothing stored
    bury = MerchandisingRule(name="bury", action="bury", product_id=ids[1], strength=5)
    preview = serving.preview_rules(customer, [bury], n=8)
    assert preview.product_ids[-1] == ids[1] or ids[1] not in preview.product_ids


def test_anonymous_visitor_gets_session_recommendations_after_views(active_version):
    assert serving.recommend(session_key="fresh-visitor", n=4).source == "trending"
    viewed = Product.objects.filter(stock__gt=0).first()
    Event.objects.create(type=Event.Type.VIEW, session_key="s-1", product=viewed)
    result = serving.recommend(session_key="s-1", n=4)
    assert result.source == "session" and viewed.pk not in result.product_ids and len(result.items) == 4


def test_new_customer_with_follows_gets_friends_recommendations(active_version):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("newbie")
    newbie = Customer.objects.create(user=user, display_name="Newbie")
    assert serving.recommend(customer=newbie, n=4).source == "trending"
    Follow.objects.create(follower=newbie, followee=scored_customer(active_version))
    result = serving.recommend(customer=newbie, n=4)
    assert result.source == "friends" and len(result.items) == 4


def test_related_blends_item_vectors_with_co_purchases(active_version):
    product = Product.objects.order_by("-purchase_count").first()
    result = serving.related(product, n=6)
    assert result.source == f"model:{active_version.pk}" and product.pk not in result.product_ids
    assert len(result.items) == 6
    co = serving.co_purchase_counts(product.pk)
    also = serving.recommend(widget="also_bought", product=product, n=6)
    top_co = max(co, key=co.get)
    assert co and (top_co in also.product_ids or not Product.objects.get(pk=top_co).in_stock)


def test_top_customers_for_product_excludes_owners(active_version):
    product = Product.objects.order_by("-purchase_count").first()
    ranked = serving.top_customers_for_product(product, n=5)
    assert 0 < len(ranked) <= 5
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_missing_or_corrupt_artifact_falls_back_to_trending_and_says_so(active_version, damage):
    customer = scored_customer(active_version)
    name = active_version.artifact.name
    default_storage.delete(name)
    if damage == "corrupt":
        default_storage.save(name, ContentFile(b"not a checkpoint at all"))
    from recommender import active_model

    active_model.forget()
    result = serving.recommend(customer=customer, n=5)
    assert result.source == "trending" and len(result.items) == 5
    assert result.reason.startswith(f"model:{active_version.pk} artifact unavailable")
    assert ("FileNotFoundError" if damage == "missing" else "DataError") in result.reason


@pytest.mark.parametrize("widget, n, field", [("nope", 5, "widget"), ("home", 0, "n"), ("home", "x", "n"),
                                              ("home", 51, "n")])
def test_bad_widget_or_n_is_a_value_error_naming_the_field(db, widget, n, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        serving.recommend(widget=widget, n=n)


def test_trending_widget_needs_no_model_and_no_customer(db):
    seed_small_store(customers=5, seed=11)
    result = serving.recommend(widget="trending", n=3)
    assert result.source == "trending" and result.reason == "" and len(result.items) == 3
