import pytest
from django.contrib import admin
from django.urls import reverse

from shop import models

pytestmark = pytest.mark.django_db
SHOP_MODELS = [models.Category, models.Brand, models.Product, models.Customer, models.Follow, models.Cart,
               models.Order, models.Review, models.Event]


def test_every_shop_model_is_registered_with_filters_and_search():
    for model in SHOP_MODELS:
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model
        assert model_admin.list_display != ("__str__",), model


@pytest.mark.parametrize("model", SHOP_MODELS, ids=lambda m: m.__name__)
def test_changelists_search_and_add_pages_load(store, alice, admin_client, model):
    models.Event.objects.create(type="view", product=store["bag"], customer=alice)
    models.Review.objects.create(customer=alice, product=store["bag"], rating=4, text="ok")
    url = reverse(f"admin:shop_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "lumina"}).status_code == 200
    assert admin_client.get(reverse(f"admin:shop_{model._meta.model_name}_add")).status_code == 200
