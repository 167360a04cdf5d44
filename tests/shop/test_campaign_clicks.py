"""A product page opened from a campaign link records one rec_click per visit."""
import pytest

from shop.models import Event

pytestmark = pytest.mark.django_db


def open_product(client, product, **params):
    response = client.get(product.get_absolute_url(), params)
    assert response.status_code == 200
    return response


def test_a_campaign_link_records_a_click_once_per_visit(store, alice, alice_client):
    open_product(alice_client, store["camera"], utm_source="email", utm_campaign="campaign-17")
    click = Event.objects.get(type=Event.Type.REC_CLICK)
    assert (click.widget, click.model_version, click.product, click.customer) == (
        "campaign-17", "campaign", store["camera"], alice)
    assert click.metadata == {"source": "email"}
    open_product(alice_client, store["camera"], utm_source="email", utm_campaign="campaign-17")  # a reload
    assert Event.objects.filter(type=Event.Type.REC_CLICK).count() == 1
    assert Event.objects.filter(type=Event.Type.VIEW).count() == 2  # views still count every time


def test_other_products_and_campaigns_count_separately_and_new_visits_count_again(store, client, alice, bob):
    open_product(client, store["camera"], utm_campaign="campaign-17")
    open_product(client, store["bag"], utm_campaign="campaign-17")
    open_product(client, store["camera"], utm_campaign="campaign-18")
    client.logout()  # a new visit: a fresh session
    open_product(client, store["camera"], utm_campaign="campaign-17")
    clicks = Event.objects.filter(type=Event.Type.REC_CLICK).order_by("pk")
    assert [(e.widget, e.product_id) for e in clicks] == [
        ("campaign-17", store["camera"].pk), ("campaign-17", store["bag"].pk),
        ("campaign-18", store["camera"].pk), ("campaign-17", store["camera"].pk)]
    assert clicks[0].session_key != clicks[3].session_key and all(e.customer is None for e in clicks)


@pytest.mark.parametrize("value", ["", "campaign-", "campaign-abc", "Campaign-3", "campaign-3x", "newsletter",
                                   "campaign-3 ", "campaign-" + "9" * 19, "home"])
def test_anything_but_campaign_digits_is_ignored(store, client, value):
    open_product(client, store["camera"], utm_campaign=value)
    assert not Event.objects.filter(type=Event.Type.REC_CLICK).exists()
    assert Event.objects.filter(type=Event.Type.VIEW).count() == 1


def test_a_page_without_campaign_records_no_click(store, client):
    open_product(client, store["camera"])
    assert not Event.objects.filter(type=Event.Type.REC_CLICK).exists()
