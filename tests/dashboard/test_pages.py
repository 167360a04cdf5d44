"""Every page renders for a merchandiser on a small store, and bad input gets a 400 naming the field."""
import pytest
from django.urls import reverse

from dashboard.models import Campaign
from recommender.models import ModelVersion, TrainingRun
from shop.models import Event

from . import factories as f


@pytest.fixture
def store(db):
    shoes = f.category("Shoes")
    ann, bob = f.customer("Ann"), f.customer("Bob")
    boot = f.product("Boot", shoes, "50.00")
    f.follow(ann, bob)
    f.event(Event.Type.VIEW, f.at(1), ann, boot, session="s1")
    f.order(bob, f.at(2), (boot, 1))
    version = ModelVersion.objects.create(
        status=ModelVersion.Status.READY,
        metrics={"validation": {"ndcg@10": 0.2}, "test": {"ndcg@10": 0.25, "recall@10": 0.4}},
        baseline_metrics={"pop": {"ndcg@10": 0.1, "recall@10": 0.2}},
        history=[{"epoch": 1, "loss": 0.9, "val_ndcg@10": 0.1}, {"epoch": 2, "loss": 0.7, "val_ndcg@10": 0.2}],
    )
    TrainingRun.objects.create(state=TrainingRun.State.SUCCEEDED, progress=100, model_version=version)
    campaign = Campaign.objects.create(name="Spring")
    return {"ann": ann, "boot": boot, "version": version, "campaign": campaign}


@pytest.mark.parametrize("name,arg", [
    ("overview", None), ("customers", None), ("customer", "ann"), ("products", None), ("product", "boot"),
    ("model", None), ("rules", None), ("campaigns", None), ("campaign_new", None), ("campaign", "campaign"),
])
def test_page_renders(merch_client, store, name, arg):
    url = reverse(f"dashboard:{name}", args=[store[arg].pk] if arg else [])
    response = merch_client.get(url)
    assert response.status_code == 200, response.content[:500]
    assert b"plotly.min.js" in response.content


def test_model_page_draws_metrics_and_curves(merch_client, store):
    page = merch_client.get(reverse("dashboard:model")).content.decode()
    assert 'data-figure="metrics"' in page and 'data-figure="curves"' in page


def test_overview_rejects_a_reversed_range(merch_client, store):
    response = merch_client.get(reverse("dashboard:overview"), {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "end" in response.content.decode() and "before the start date" in response.content.decode()


def test_customer_filter_rejects_an_unknown_segment(merch_client, store):
    response = merch_client.get(reverse("dashboard:customers"), {"segment": "vip"})
    assert response.status_code == 400
    assert "segment" in response.content.decode()


def test_what_if_names_the_bad_field(merch_client, store):
    response = merch_client.get(reverse("dashboard:what_if", args=[store["ann"].pk]), {"product": "999999"})
    assert response.status_code == 400
    assert "product" in response.json()["errors"]


def test_plotly_js_is_served_from_our_static_files(merch_client):
    from django.contrib.staticfiles import finders

    path = finders.find("plotly/plotly.min.js")
    assert path and path.endswith("plotly/package_data/plotly.min.js")
    assert finders.find("plotly/widgetbundle.js") is None  # the rest of plotly's package data is not ours


def test_collectstatic_copies_only_plotlys_bundle(tmp_path, settings):
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    call_command("collectstatic", interactive=False, verbosity=0)
    assert sorted(p.name for p in (tmp_path / "plotly").iterdir()) == ["plotly.min.js"]
    assert (tmp_path / "css").is_dir()  # the project's own static files are still collected


def test_customer_filters(merch_client, db):
    from datetime import timedelta

    from django.utils import timezone

    from dashboard import analytics

    now, cat = timezone.now(), f.category("Things")
    item = f.product("Thing", cat)
    new = f.customer("New")
    old = f.customer("Old", opt_in=False, joined=now - timedelta(days=200))
    buyer = f.customer("Buyer", joined=now - timedelta(days=200))
    f.order(buyer, now - timedelta(days=40), (item, 1))
    f.order(buyer, now - timedelta(days=2), (item, 1))
    f.event(Event.Type.VIEW, now - timedelta(days=3), new, item)
    f.event(Event.Type.VIEW, now - timedelta(days=60), old, item)
    f.follow(new, buyer)

    def names(**query):
        return {c.display_name for c in analytics.filter_customers(**query)}

    assert names(segment="new") == {"New"}
    assert names(segment="browsers") == {"New", "Old"} and names(segment="repeat") == {"Buyer"}
    assert names(segment="opted_in") == {"New", "Buyer"}
    assert names(activity="7") == {"New", "Buyer"} and names(activity="inactive30") == {"Old"}
    assert names(activity="30") == {"New", "Buyer"}
    assert names(has_friends="yes") == {"New"} and names(has_friends="no") == {"Old", "Buyer"}
    assert names(q="buy") == {"Buyer"}
    listed = merch_client.get(reverse("dashboard:customers"), {"segment": "repeat"}).context["page"]
    assert [c.display_name for c in listed] == ["Buyer"] and listed[0].spent == 20 and listed[0].order_count == 2
