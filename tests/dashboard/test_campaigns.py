"""Campaign audiences equal their definitions, never hold an opted-out customer, and the export's
columns and rows are the audience with the model's recommendations."""
import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard import campaigns
from dashboard.models import Campaign, CampaignRecipient, ExportJob, ExportLog
from recommender import serving
from recommender.models import ModelVersion, Recommendation
from shop.models import Event

from . import factories as f

DAYS = timedelta(days=1)


@pytest.fixture
def store(db):
    now = timezone.now()
    shoes = f.category("Shoes")
    boots = f.category("Boots", parent=shoes)
    hats = f.category("Hats")
    acme = f.brand("Acme")
    p = {
        "boot": f.product("Boot", boots, "80.00", brand=acme, purchase_count=1),
        "sneaker": f.product("Sneaker", shoes, "60.00", purchase_count=5),
        "hat": f.product("Hat", hats, "20.00", brand=acme),
        "cap": f.product("Cap", hats, "15.00"),
    }
    old = now - 90 * DAYS
    c = {
        "ann": f.customer("Ann", joined=old),  # viewed a boot last week
        "bob": f.customer("Bob", joined=old),  # quiet for 90 days, spent 200
        "cy": f.customer("Cy", opt_in=False, joined=old),  # opted out: in no audience, ever
        "dan": f.customer("Dan", joined=old),  # bought a hat yesterday
        "eve": f.customer("Eve"),  # follows Dan; joined today
        "fay": f.customer("Fay", email=""),  # opted in without an email address
    }
    f.event(Event.Type.VIEW, now - 7 * DAYS, c["ann"], p["boot"])
    f.event(Event.Type.VIEW, old, c["bob"], p["hat"])
    f.order(c["bob"], old, (p["boot"], 2), (p["hat"], 2))
    f.event(Event.Type.VIEW, now - 2 * DAYS, c["cy"], p["boot"])
    f.order(c["cy"], now - 2 * DAYS, (p["boot"], 3))
    f.order(c["dan"], now - DAYS, (p["hat"], 1))
    f.follow(c["eve"], c["dan"])
    f.follow(c["cy"], c["dan"])
    return {**p, **c, "shoes": shoes, "hats": hats, "acme": acme}


def names(campaign) -> set[str]:
    return set(campaigns.audience(campaign).values_list("display_name", flat=True))


@pytest.mark.parametrize("rules,expected", [
    ({}, {"Ann", "Bob", "Dan", "Eve"}),
    ({"affinity_category": "shoes"}, {"Ann", "Bob"}),  # Bob bought boots (a child of Shoes)
    ({"affinity_category": "hats"}, {"Bob", "Dan"}),
    ({"inactive_days": 30}, {"Bob"}),  # Eve has no events but joined today
    ({"friends_bought": "hat"}, {"Eve"}),
    ({"min_spent": Decimal("199.99")}, {"Bob"}),
    ({"min_spent": Decimal("200.00")}, set()),  # "over X": strictly more
    ({"affinity_category": "shoes", "inactive_days": 30}, {"Bob"}),
    ({"affinity_category": "hats", "friends_bought": "hat"}, set()),
])
def test_audience_equals_its_definition(store, rules, expected):
    values = {k: store[v] if isinstance(v, str) else v for k, v in rules.items()}
    campaign = Campaign.objects.create(name="c", **values)
    assert names(campaign) == expected
    assert "Cy" not in names(campaign) and "Fay" not in names(campaign)


@pytest.fixture
def recommended(store):
    """The active model's materialized list for Ann; Bob has none (the scope's best sellers fill)."""
    version = ModelVersion.objects.create(status=ModelVersion.Status.ACTIVE)
    for rank, (key, text) in enumerate(
        [("hat", "Because your friend Dan bought it"), ("boot", "Because you viewed Boot"), ("sneaker", ""), ("cap", "")],
        start=1,
    ):
        Recommendation.objects.create(customer=store["ann"], product=store[key], rank=rank, score=1.0 / rank,
                                      model_version=version, explanation={"text": text})
    return version


def shoes_campaign(store, **extra) -> Campaign:
    campaign = Campaign.objects.create(name="Shoes week", affinity_category=store["shoes"], items_per_customer=2,
                                       discount_percent=15, discount_prefix="SHOE", **extra)
    campaign.scope_categories.add(store["shoes"])
    return campaign


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def test_items_follow_the_model_within_the_scope(store, recommended):
    campaign = shoes_campaign(store)
    picked = {e.customer.display_name: e for e in campaigns.ItemPicker(campaign).for_customers(
        campaigns.audience(campaign))}
    assert [i.product.title for i in picked["Ann"].items] == ["Boot", "Sneaker"]  # hat is out of scope
    assert [i.source for i in picked["Ann"].items] == [recommended.label] * 2
    assert picked["Ann"].reason == "Because you viewed Boot"
    assert [i.product.title for i in picked["Bob"].items] == ["Sneaker", "Boot"]  # best sellers
    assert [i.source for i in picked["Bob"].items] == ["popular", "popular"]
    assert picked["Bob"].reason == "Popular picks from Shoes"


def test_streamed_export_matches_audience_and_recommendations(merch_client, store, recommended):
    campaign = shoes_campaign(store)
    response = merch_client.post(reverse("dashboard:campaign_export", args=[campaign.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(b"".join(response.streaming_content))
    assert rows[0] == ["email", "name",
                       "item1_title", "item1_url", "item1_price", "item1_image_url",
                       "item2_title", "item2_url", "item2_price", "item2_image_url",
                       "reason", "discount_code"]
    ann, bob = store["ann"], store["bob"]
    boot, sneaker = store["boot"], store["sneaker"]
    base = "http://testserver"
    assert rows[1] == [
        "ann@example.com", "Ann",
        "Boot", f"{base}/products/{boot.pk}/?utm_source=email&utm_campaign=campaign-{campaign.pk}", "80.00",
        f"{base}/products/{boot.pk}/image.svg",
        "Sneaker", f"{base}/products/{sneaker.pk}/?utm_source=email&utm_campaign=campaign-{campaign.pk}", "60.00",
        f"{base}/products/{sneaker.pk}/image.svg",
        "Because you viewed Boot", campaigns.discount_code(campaign, ann.pk),
    ]
    assert [r[0] for r in rows[1:]] == ["ann@example.com", "bob@example.com"]
    assert rows[2][2] == "Sneaker" and rows[2][6] == "Boot"
    assert rows[1][-1].startswith("SHOE15-") and rows[1][-1] != rows[2][-1]
    log = ExportLog.objects.get()
    assert (log.campaign, log.rows, log.kind, log.user.username) == (campaign, 2, "stream", "merch")
    assert set(CampaignRecipient.objects.values_list("customer_id", flat=True)) == {ann.pk, bob.pk}
    campaign.refresh_from_db()
    assert campaign.sent_at is not None


def test_discount_codes_are_stable_and_absent_without_a_discount(store):
    campaign = shoes_campaign(store)
    assert campaigns.discount_code(campaign, 7) == campaigns.discount_code(campaign, 7)
    campaign.discount_percent = None
    assert campaigns.discount_code(campaign, 7) == ""


def test_large_audience_is_exported_by_a_task(merch_client, store, recommended, settings, eager_celery,
                                              django_capture_on_commit_callbacks):
    settings.DASHBOARD_EXPORT_SYNC_LIMIT = 1
    campaign = shoes_campaign(store)
    with django_capture_on_commit_callbacks(execute=True):
        response = merch_client.post(reverse("dashboard:campaign_export", args=[campaign.pk]))
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:export_job", args=[job.pk])
    progress = merch_client.get(reverse("dashboard:export_progress", args=[job.pk])).json()
    assert progress["state"] == "done" and progress["progress"] == 100 and progress["total"] == 2
    download = merch_client.get(progress["download"])
    rows = read_csv(b"".join(download.streaming_content))
    assert [r[0] for r in rows[1:]] == ["ann@example.com", "bob@example.com"]
    assert rows[1][2:4][0] == "Boot"
    log = ExportLog.objects.get()
    assert (log.kind, log.rows, log.campaign) == ("task", 2, campaign)


def test_performance_counts_recipients_orders_in_scope(merch_client, store, recommended):
    campaign = shoes_campaign(store)
    assert campaigns.performance(campaign) is None  # not sent yet
    b"".join(merch_client.post(reverse("dashboard:campaign_export", args=[campaign.pk])).streaming_content)
    campaign.refresh_from_db()
    soon = campaign.sent_at + timedelta(hours=2)
    f.order(store["ann"], soon, (store["sneaker"], 1), (store["hat"], 1))  # hat is out of scope
    f.order(store["eve"], soon, (store["boot"], 1))  # not a recipient
    f.order(store["bob"], campaign.sent_at + timedelta(days=30), (store["boot"], 1))  # after the window
    f.event(Event.Type.REC_CLICK, soon, store["ann"], store["sneaker"], widget=campaign.widget_tag)
    perf = campaigns.performance(campaign, window_days=7)
    assert (perf.recipients, perf.clicks, perf.buyers, perf.orders) == (2, 1, 1, 1)
    assert perf.revenue == Decimal("60.00")


def test_campaign_page_shows_audience_and_email_preview(merch_client, store, recommended):
    campaign = shoes_campaign(store, widget_style=Campaign.WidgetStyle.GRID)
    page = merch_client.get(reverse("dashboard:campaign", args=[campaign.pk])).content.decode()
    assert 'data-testid="audience-size">2<' in page
    assert page.count('data-testid="email-preview"') == 2
    assert "Because you viewed Boot" in page and "image.svg" in page
    # The email HTML sits whole inside the iframe's srcdoc attribute, escaped.
    assert 'srcdoc="&lt;table role=&quot;presentation&quot;' in page


def test_campaign_form_rejects_bad_input_and_saves_good(merch_client, store):
    url = reverse("dashboard:campaign_new")
    bad = merch_client.post(url, {"name": "", "items_per_customer": 0, "widget_style": "grid",
                                  "likely_buyers_top": 100})
    assert bad.status_code == 400 and not Campaign.objects.exists()
    assert set(bad.context["form"].errors) == {"name", "items_per_customer"}
    good = merch_client.post(url, {"name": "Hats", "items_per_customer": 3, "widget_style": "carousel",
                                   "likely_buyers_top": 100,
                                   "scope_categories": [store["hats"].pk], "discount_prefix": "hat"})
    campaign = Campaign.objects.get()
    assert good.status_code == 302 and good["Location"] == campaign.get_absolute_url()
    assert list(campaign.scope_categories.all()) == [store["hats"]] and campaign.discount_prefix == "HAT"


def test_likely_buyers_audience_is_the_models_top_customers_who_opted_in(trained):
    product = Recommendation.objects.filter(model_version=trained, rank=1).first().product
    campaign = Campaign.objects.create(name="Likely", likely_buyers_of=product, likely_buyers_top=10)
    top = [customer for customer, _ in serving.top_customers_for_product(product, 10)]
    expected = {c.pk for c in top if c.marketing_opt_in and c.email}
    assert len(top) == 10 and expected  # the seeded store mixes opted-in and opted-out customers
    assert set(campaigns.audience(campaign).values_list("pk", flat=True)) == expected


def test_a_failed_export_task_leaves_no_file_and_no_log(store, monkeypatch):
    from dashboard import tasks

    campaign = shoes_campaign(store)
    job = ExportJob.objects.create(campaign=campaign, base_url="http://testserver/")

    def broken(*args, **kwargs):
        yield "email,name\n"
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks.campaigns, "csv_lines", broken)
    with pytest.raises(RuntimeError):
        tasks.export_campaign(job.pk)
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED and "disk full" in job.error and not job.file
    assert not ExportLog.objects.exists() and not CampaignRecipient.objects.exists()
