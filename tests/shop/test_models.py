from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from shop.models import CartLine, Cart, Follow, Product, Review

pytestmark = pytest.mark.django_db


def test_follow_is_unique_and_never_self(alice, bob):
    Follow.objects.create(follower=alice, followee=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=alice, followee=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=alice, followee=alice)
    Follow.objects.create(follower=bob, followee=alice)  # directed: the reverse is another follow
    assert list(alice.following.all()) == [bob] and list(alice.followers.all()) == [bob]


def test_price_cannot_be_negative(store):
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=store["bag"].pk).update(price=Decimal("-1"))


def test_review_rating_between_1_and_5_and_one_per_customer(store, alice):
    for bad in (0, 6):
        with pytest.raises(IntegrityError), transaction.atomic():
            Review.objects.create(customer=alice, product=store["bag"], rating=bad, text="x")
    Review.objects.create(customer=alice, product=store["bag"], rating=4, text="Nice")
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(customer=alice, product=store["bag"], rating=2, text="again")


def test_review_sentiment_follows_its_text(store, alice, bob):
    happy = Review.objects.create(customer=alice, product=store["bag"], rating=5, text="I love it, excellent bag!")
    sad = Review.objects.create(customer=bob, product=store["bag"], rating=1, text="Terrible, broke, awful.")
    assert happy.sentiment > 0.5 and sad.sentiment < -0.5
    assert -1 <= sad.sentiment <= happy.sentiment <= 1


def test_cart_line_quantity_positive_and_unique_product(store, alice):
    cart = Cart.objects.create(customer=alice)
    CartLine.objects.create(cart=cart, product=store["bag"], quantity=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        CartLine.objects.create(cart=cart, product=store["bag"], quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CartLine.objects.create(cart=cart, product=store["camera"], quantity=0)
    assert cart.total == Decimal("98.00")


def test_popularity_weights_views_carts_purchases(store):
    p = store["bag"]
    p.view_count, p.cart_count, p.purchase_count = 10, 2, 1
    assert p.popularity == 10 + 3 * 2 + 5 * 1
