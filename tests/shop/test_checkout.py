import pytest
from django.test import Client
from django.urls import reverse

from shop import services
from shop.models import Cart, Event, Order, OrderLine, Product

pytestmark = pytest.mark.django_db

PAY = {"name_on_card": "Alice Adams", "card_number": "4242 4242 4242 4242"}


def add(client, product, quantity=1):
    return client.post(reverse("shop:cart_add", args=[product.pk]), {"quantity": quantity})


def test_checkout_creates_order_decrements_stock_and_records_purchases(store, alice, alice_client):
    add(alice_client, store["camera"], 2)
    add(alice_client, store["bag"])
    response = alice_client.post(reverse("shop:checkout"), PAY)
    order = Order.objects.get(customer=alice)
    assert response.status_code == 302 and response.url == reverse("shop:order", args=[order.pk])
    assert {(l.product_id, l.quantity, l.unit_price) for l in order.lines.all()} == {
        (store["camera"].pk, 2, store["camera"].price), (store["bag"].pk, 1, store["bag"].price)}
    assert order.total == 2 * store["camera"].price + store["bag"].price
    assert order.payment_reference.startswith("FAKE-")
    assert Product.objects.get(pk=store["camera"].pk).stock == 3
    assert Product.objects.get(pk=store["bag"].pk).stock == 1
    purchases = Event.objects.filter(type=Event.Type.PURCHASE, customer=alice)
    assert sorted(purchases.values_list("product_id", flat=True)) == sorted([store["camera"].pk, store["bag"].pk])
    assert all(e.metadata["order"] == order.pk for e in purchases)
    assert Cart.objects.get(customer=alice).checked_out
    assert list(alice_client.get(reverse("shop:orders")).context["page"]) == [order]


def test_out_of_stock_rolls_everything_back(store, alice, alice_client):
    add(alice_client, store["bag"], 1)
    add(alice_client, store["espresso"], 3)  # only 1 in stock
    response = alice_client.post(reverse("shop:checkout"), PAY)
    assert response.status_code == 409
    assert "Not enough stock" in response.content.decode() and "Brewhaus Espresso Machine" in response.content.decode()
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert Product.objects.get(pk=store["bag"].pk).stock == 2  # the line that had stock was not decremented
    assert Product.objects.get(pk=store["espresso"].pk).stock == 1
    assert not Event.objects.filter(type=Event.Type.PURCHASE).exists()
    assert Cart.objects.get(customer=alice).lines.count() == 2  # the cart is kept to fix


def test_service_raises_out_of_stock_with_each_shortage(store, alice, rf, client):
    request = rf.post("/")
    request.user, request.session = alice.user, client.session
    services.add_to_cart(request, store["espresso"], 2)
    cart = services.current_cart(request)
    with pytest.raises(services.OutOfStock) as error:
        services.checkout(request, cart)
    assert [(s.product.pk, s.requested, s.available) for s in error.value.shortages] == [(store["espresso"].pk, 2, 1)]


def test_invalid_card_is_a_400_naming_the_field_and_writes_nothing(store, alice_client):
    add(alice_client, store["bag"])
    response = alice_client.post(reverse("shop:checkout"), {**PAY, "card_number": "4242 4242 4242 4241"})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert not Order.objects.exists()


def test_checkout_needs_login_and_a_cart(store, alice_client):
    assert Client().get(reverse("shop:checkout")).url.startswith("/accounts/login/")
    assert alice_client.get(reverse("shop:checkout")).url == reverse("shop:cart")


def test_anonymous_cart_follows_the_shopper_into_login(store, alice, client):
    add(client, store["bag"], 2)
    client.force_login(alice.user)
    response = client.get(reverse("shop:cart"))
    assert "Lumina Sling Bag" in response.content.decode()
    assert Cart.objects.get(customer=alice).lines.get().quantity == 2


def test_other_customers_orders_are_not_visible(store, alice, bob, alice_client):
    order = Order.objects.create(customer=bob)
    assert alice_client.get(reverse("shop:order", args=[order.pk])).status_code == 404
