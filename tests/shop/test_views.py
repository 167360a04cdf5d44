import pytest
from django.test import override_settings
from django.urls import reverse

from shop.models import Event, Follow, Product, Review

pytestmark = pytest.mark.django_db
CART_TYPES = [Event.Type.ADD_TO_CART, Event.Type.REMOVE_FROM_CART]


def test_home_and_categories_render(store, client):
    html = client.get("/").content.decode()
    assert "Lumina Mirrorless Camera X100" in html and 'href="/c/cameras-photo/"' in html
    assert client.get(reverse("shop:categories")).status_code == 200


@pytest.mark.parametrize("sort, first", [("price", "bag"), ("price_desc", "camera"), ("newest", "bag")])
def test_category_sorts_and_includes_sub_categories(store, client, sort, first):
    response = client.get(reverse("shop:category", args=["cameras-photo"]), {"sort": sort})
    titles = [p.title for p in response.context["page"]]
    assert titles[0] == store[first].title and len(titles) == 2


def test_category_sorts_by_popularity(store, client):
    Product.objects.filter(pk=store["bag"].pk).update(purchase_count=3)
    response = client.get(reverse("shop:category", args=["cameras-photo"]), {"sort": "popularity"})
    assert response.context["page"][0] == store["bag"]


def test_category_paginates(store, client):
    cameras = store["categories"]["cameras"]
    Product.objects.bulk_create(Product(title=f"Camera {i}", category=cameras, price=10) for i in range(30))
    url = reverse("shop:category", args=["cameras"])
    first, second = client.get(url, {"sort": "price"}), client.get(url, {"sort": "price", "page": 2})
    assert len(first.context["page"]) == 24 and len(second.context["page"]) == 7
    assert "sort=price&amp;page=2" in first.content.decode()


def test_product_page_records_a_view_and_shows_reviews(store, alice, client):
    Review.objects.create(customer=alice, product=store["bag"], rating=5, text="Lovely bag")
    html = client.get(store["bag"].get_absolute_url()).content.decode()
    assert "Lovely bag" in html and "Alice Adams" in html
    event = Event.objects.get(type=Event.Type.VIEW)
    assert event.product == store["bag"] and event.customer is None and event.session_key


def test_search_records_the_query(store, client):
    response = client.get(reverse("shop:search"), {"q": "espresso"})
    assert [p.title for p in response.context["page"]] == ["Brewhaus Espresso Machine"]
    event = Event.objects.get(type=Event.Type.SEARCH)
    assert event.query == "espresso" and event.metadata["results"] == 1
    client.get(reverse("shop:search"), {"q": "espresso", "page": 2})  # another page of the same search
    assert Event.objects.filter(type=Event.Type.SEARCH).count() == 1


def test_cart_add_and_remove_record_events(store, alice, alice_client):
    alice_client.post(reverse("shop:cart_add", args=[store["bag"].pk]), {"quantity": 1})
    assert alice_client.get(reverse("shop:cart")).context["cart_items"] == 1
    alice_client.post(reverse("shop:cart_remove", args=[store["bag"].pk]))
    types = list(Event.objects.filter(customer=alice, type__in=CART_TYPES).order_by("pk").values_list("type", flat=True))
    assert types == [Event.Type.ADD_TO_CART, Event.Type.REMOVE_FROM_CART]
    assert Product.objects.get(pk=store["bag"].pk).cart_count == 1


def test_bad_quantity_is_refused_with_a_message(store, client):
    response = client.post(reverse("shop:cart_add", args=[store["bag"].pk]), {"quantity": 0})
    assert response.status_code == 400 and "greater than or equal to 1" in response.content.decode()
    assert not Event.objects.filter(type__in=CART_TYPES).exists()


def test_review_form_creates_then_updates_one_review(store, alice, alice_client):
    url = reverse("shop:review", args=[store["bag"].pk])
    alice_client.post(url, {"rating": 5, "text": "Excellent, I love it"})
    alice_client.post(url, {"rating": 2, "text": "Strap broke, disappointed"})
    review = Review.objects.get()
    assert review.rating == 2 and review.sentiment < 0
    assert Event.objects.filter(type=Event.Type.REVIEW, customer=alice).count() == 2


def test_review_with_bad_rating_is_rejected(store, alice_client):
    response = alice_client.post(reverse("shop:review", args=[store["bag"].pk]), {"rating": 9, "text": "x"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not Review.objects.exists()


def test_follow_unfollow_and_following_list(store, alice, bob, alice_client):
    alice_client.post(reverse("shop:follow", args=[bob.pk]))
    assert Follow.objects.filter(follower=alice, followee=bob).exists()
    profile = alice_client.get(reverse("shop:customer", args=[alice.pk])).content.decode()
    assert "Bob Baker" in profile
    alice_client.post(reverse("shop:unfollow", args=[bob.pk]))
    assert not Follow.objects.exists()
    actions = [e.metadata["action"] for e in Event.objects.filter(type=Event.Type.FOLLOW).order_by("pk")]
    assert actions == ["follow", "unfollow"]


def test_cannot_follow_yourself(alice, alice_client):
    response = alice_client.post(reverse("shop:follow", args=[alice.pk]))
    assert response.status_code == 400 and "cannot follow yourself" in response.content.decode() and not Follow.objects.exists()


def test_product_image_is_a_deterministic_svg(store, client):
    url = reverse("shop:product_image", args=[store["bag"].pk])
    first, second = client.get(url), client.get(url)
    assert first["Content-Type"] == "image/svg+xml" and first.content == second.content
    assert first.content.startswith(b"<svg") and b">LS<" in first.content
    assert client.get(reverse("shop:product_image", args=[store["camera"].pk])).content != first.content


@override_settings(DEMO_MODE=True)
def test_persona_switcher_logs_in_without_password(alice, client):
    response = client.post(reverse("shop:shop_as"), {"customer": alice.pk, "next": "/cart/"})
    assert response.url == "/cart/"
    assert client.get("/").context["user"] == alice.user


@override_settings(DEMO_MODE=True)
def test_persona_switcher_needs_a_customer(alice, client):
    response = client.post(reverse("shop:shop_as"), {"customer": ""})
    assert response.status_code == 400 and "customer: choose a customer" in response.content.decode()
    assert client.post(reverse("shop:shop_as"), {"customer": 999999}).status_code == 404


@override_settings(DEMO_MODE=True)
def test_persona_switcher_refuses_offsite_next(alice, client):
    response = client.post(reverse("shop:shop_as"), {"customer": alice.pk, "next": "https://evil.example/"})
    assert response.url == reverse("shop:home")


@override_settings(DEMO_MODE=False)
def test_persona_switcher_is_404_without_demo_mode(alice, client):
    assert client.get(reverse("shop:shop_as")).status_code == 404
    assert client.post(reverse("shop:shop_as"), {"customer": alice.pk}).status_code == 404
    assert "_auth_user_id" not in client.session
    assert 'name="customer"' not in client.get("/").content.decode()


def test_demo_mode_is_off_whenever_debug_is_off(monkeypatch):
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("DJANGO_DEBUG", "false")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    monkeypatch.setenv("GRAPHCART_DEMO_MODE", "true")
    try:
        assert importlib.reload(base).DEMO_MODE is False
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_staff_see_dashboard_link(db, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    assert 'href="/dashboard/"' in client.get("/").content.decode()


def test_login_page_renders(db, client):
    assert "Log in" in client.get(reverse("login")).content.decode()


def test_an_unfollow_is_a_follow_event_but_leaves_the_recommender_no_edge(store, alice, bob, alice_client):
    from recommender import snapshot

    alice_client.post(reverse("shop:follow", args=[bob.pk]))
    assert list(snapshot.follows()) == [(str(alice.pk), str(bob.pk))]
    alice_client.post(reverse("shop:unfollow", args=[bob.pk]))
    actions = list(Event.objects.filter(type=Event.Type.FOLLOW).order_by("pk").values_list("metadata__action", flat=True))
    assert actions == ["follow", "unfollow"]
    assert list(snapshot.follows()) == []  # the social graph comes from Follow rows, not from events
