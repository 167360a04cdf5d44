"""A shopper's whole path through the store in a real browser, and the events it leaves."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from shop.models import Category, Customer, Event, Order, Product

SHOPPER_STEPS = ["view", "add_to_cart", "remove_from_cart", "purchase"]


@pytest.mark.e2e
def test_home_product_cart_checkout_records_every_step(live_server, page, artifacts, settings):
    settings.DEMO_MODE = True
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    product = Product.objects.create(title="Brewhaus Espresso Machine", category=kitchen, price=Decimal("349.00"),
                                     stock=4, description="Pulls a proper espresso.")
    Product.objects.create(title="Ceramic Mug", category=kitchen, price=Decimal("9.00"), stock=10)
    user = User.objects.create_user("ava", password="unused-in-demo")
    ava = Customer.objects.create(user=user, display_name="Ava Chen")

    page.goto(f"{live_server.url}/shop-as/")
    page.get_by_role("button", name="Shop as Ava Chen").click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="Brewhaus Espresso Machine").first.click()
    page.wait_for_url(f"**{product.get_absolute_url()}")
    page.get_by_label("Quantity").fill("2")
    page.get_by_test_id("add-to-cart").click()
    page.wait_for_url("**/cart/")
    assert page.get_by_test_id("cart-count").inner_text() == "2"
    assert page.get_by_test_id("cart-total").inner_text() == "$698.00"
    page.get_by_test_id("checkout").click()
    page.get_by_label("Name on card").fill("Ava Chen")
    page.get_by_test_id("pay").click()
    page.wait_for_url("**/orders/*/")
    assert page.get_by_test_id("order-total").inner_text() == "$698.00"
    page.screenshot(path=str(artifacts / "store-checkout.png"), full_page=True)

    order = Order.objects.get(customer=ava)
    assert order.lines.get().quantity == 2
    assert Product.objects.get(pk=product.pk).stock == 2
    steps = list(Event.objects.filter(customer=ava, product=product, type__in=SHOPPER_STEPS).order_by("timestamp", "pk")
                 .values_list("type", flat=True))
    assert steps == ["view", "add_to_cart", "purchase"]
    purchase = Event.objects.get(type="purchase", customer=ava)
    assert purchase.metadata["order"] == order.pk and purchase.metadata["quantity"] == 2


@pytest.mark.e2e
def test_a_campaign_email_link_counts_one_click_per_visit(live_server, page):
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    product = Product.objects.create(title="Brewhaus Espresso Machine", category=kitchen, price=Decimal("349.00"),
                                     stock=4)
    page.goto(f"{live_server.url}{product.get_absolute_url()}?utm_source=email&utm_campaign=campaign-42")
    assert page.get_by_role("heading", name="Brewhaus Espresso Machine").is_visible()
    page.reload()
    page.goto(f"{live_server.url}{product.get_absolute_url()}?utm_campaign=campaign-42%3Cscript%3E")
    clicks = list(Event.objects.filter(type="rec_click").values_list("widget", "model_version", "product"))
    assert clicks == [("campaign-42", "campaign", product.pk)]
    assert Event.objects.filter(type="view", product=product).count() == 3
