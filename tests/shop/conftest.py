"""Small hand-made store for the shop tests (the generator has its own tests)."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from shop.models import Brand, Category, Customer, Product


@pytest.fixture
def store(db):
    photo = Category.objects.create(name="Cameras & Photo", slug="cameras-photo")
    cameras = Category.objects.create(name="Cameras", slug="cameras", parent=photo)
    bags = Category.objects.create(name="Camera Bags", slug="camera-bags", parent=photo)
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    lumina = Brand.objects.create(name="Lumina", slug="lumina")
    brew = Brand.objects.create(name="Brewhaus", slug="brewhaus")
    products = {
        "camera": Product.objects.create(title="Lumina Mirrorless Camera X100", category=cameras, brand=lumina,
                                         price=Decimal("899.00"), stock=5,
                                         description="A mirrorless camera with fast autofocus."),
        "bag": Product.objects.create(title="Lumina Sling Bag", category=bags, brand=lumina, price=Decimal("49.00"),
                                      stock=2, description="Carries a camera and two lenses."),
        "espresso": Product.objects.create(title="Brewhaus Espresso Machine", category=kitchen, brand=brew,
                                           price=Decimal("349.00"), stock=1,
                                           description="Pulls espresso shots; steam wand for milk."),
    }
    return {"categories": {"photo": photo, "cameras": cameras, "bags": bags, "kitchen": kitchen},
            "brands": {"lumina": lumina, "brewhaus": brew}, **products}


def make_customer(name: str, **extra) -> Customer:
    user = User.objects.create_user(name.lower().replace(" ", "."), password="pw")
    return Customer.objects.create(user=user, display_name=name, **extra)


@pytest.fixture
def alice(db):
    return make_customer("Alice Adams")


@pytest.fixture
def bob(db):
    return make_customer("Bob Baker")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice.user)
    return client
