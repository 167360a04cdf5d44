"""In a real Chromium: click a recommended product, go back home, and "Recommended for you"
has changed (re-ranked from the click, no retrain); impressions and the click are recorded."""
import pytest

from recommender import active_model
from recommender.models import ModelVersion
from recommender.services import request_retrain
from recommender.training import execute
from shop.models import Customer, Event
from tests.conftest import celery_eager
from tests.recommender.conftest import TINY_TRAIN_CONFIG, seed_small_store

pytestmark = pytest.mark.e2e


@pytest.fixture
def store_with_model(transactional_db, settings):
    settings.RECOMMENDER_TRAIN_CONFIG = dict(TINY_TRAIN_CONFIG)
    settings.RECOMMENDER_BASELINES = ["pop"]
    settings.RECOMMENDER_ACTIVE_CHECK_SECONDS = 0
    settings.RECOMMENDER_REFRESH_ON_EVENTS = False
    seed_small_store()
    with celery_eager():  # score_customers runs inline after activation
        execute(request_retrain(None).pk)
    active_model.forget()
    return ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)


def home_recommendations(page) -> list[str]:
    widget = page.get_by_test_id("recs-home")
    widget.wait_for()
    return widget.locator("article[data-product-id]").evaluate_all("cards => cards.map(c => c.dataset.productId)")


def test_clicking_a_recommendation_changes_the_next_home_page(store_with_model, live_server, page):
    customer = Customer.objects.filter(recommendations__isnull=False).distinct().first()
    customer.user.set_password("shopper-pw")
    customer.user.save()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", customer.user.username)
    page.fill("input[name=password]", "shopper-pw")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    page.goto(f"{live_server.url}/")
    before = home_recommendations(page)
    assert len(before) == 8
    assert page.get_by_test_id("recs-home").get_attribute("data-source") == store_with_model.label

    clicked = before[-1]
    page.locator(f'[data-testid=recs-home] article[data-product-id="{clicked}"] a[data-testid=rec-link]').click()
    page.wait_for_url(f"**/products/{clicked}/")
    page.goto(f"{live_server.url}/")
    after = home_recommendations(page)

    assert len(after) == 8 and after != before
    impressions = Event.objects.filter(type=Event.Type.REC_IMPRESSION, customer=customer, widget="home")
    # one impression per rendered card (the login's redirect home rendered the widget too)
    assert impressions.count() in (16, 24)
    assert {str(pid) for pid in impressions.values_list("product_id", flat=True)} >= set(before) | set(after)
    assert set(impressions.values_list("model_version", flat=True)) == {store_with_model.label}
    click = Event.objects.get(type=Event.Type.REC_CLICK, customer=customer)
    assert (click.product_id, click.widget, click.model_version) == (int(clicked), "home", store_with_model.label)
    # the "Why this?" popover opens with the model's explanation in plain words
    first = page.locator("[data-testid=recs-home] details.why").first
    first.locator("summary").click()
    assert first.locator("p").first.inner_text().strip()
