"""The merchandiser's day in a real Chromium: log in, retrain and watch the progress reach
100 % (a real Celery worker trains a tiny model), open a customer and see the explanation
charts drawn, preview a rule, create a campaign and download its CSV. Screenshots of each page
go to test-artifacts/dashboard/; with UPDATE_SCREENSHOTS=1 the main ones are also copied to
docs/screenshots/ for the README (`make screenshots`), so a plain test run leaves the tracked files
alone. Run it with `.venv/bin/python -m pytest tests/e2e/test_dashboard.py` (Chromium at /usr/bin/chromium)."""
import csv
import json
import os
import shutil

import pytest

from tests.conftest import ROOT, wait_until

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
README_SHOTS = ROOT / "docs" / "screenshots"
MAIN_SHOTS = ("overview", "customer", "model", "campaign")
TINY_TRAINING = {"dim": 8, "epochs": 3, "patience": 3, "negatives": 32, "batch_size": 64, "max_len": 10,
                 "social_heads": 1}

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def tiny_worker_env(monkeypatch):
    """Read by the worker process the live_worker fixture starts (it inherits os.environ)."""
    monkeypatch.setenv("RECOMMENDER_TRAIN_CONFIG", json.dumps(TINY_TRAINING))
    monkeypatch.setenv("RECOMMENDER_BASELINES", "pop")
    monkeypatch.setenv("RECOMMENDER_DEVICE", "cpu")


@pytest.fixture
def wide_page(browser):
    """A wider window than the shared `page` fixture (the dashboard's tables), downloads on."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_merchandiser_day(tiny_worker_env, live_worker, live_server, wide_page, settings):
    from django.db.models import Exists, OuterRef

    from recommender.models import ModelVersion, Recommendation
    from shop.demo.generator import seed
    from shop.models import Customer, Follow

    settings.RECOMMENDER_ACTIVE_CHECK_SECONDS = 0
    seed(customers=30, products=120, days=10, seed=7)
    page = wide_page
    url = live_server.url

    # Log in through the login page the dashboard sends anonymous visitors to.
    page.goto(f"{url}/dashboard/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "merchandiser")
    page.fill("input[name=password]", "merchandiser")
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(f"{url}/dashboard/")
    assert page.locator("[data-kpi=views]").inner_text() != ""
    page.wait_for_selector("[data-testid=kpis] ~ .figure .main-svg")
    shot(page, "overview")

    # Retrain: the worker trains; the page polls the progress JSON until 100 %.
    page.goto(f"{url}/dashboard/model/")
    page.click("[data-testid=retrain]")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=progress]') || {}).textContent === '100 %'", timeout=240_000)
    version = wait_until(lambda: ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first(),
                         timeout=30, message="an active model version")
    wait_until(lambda: Recommendation.objects.filter(model_version=version).exists(), timeout=120,
               message="materialized recommendations")
    page.reload()
    page.wait_for_selector("[data-figure=curves] .main-svg")
    page.wait_for_selector("[data-figure=metrics] .main-svg")
    shot(page, "model")

    # A customer who follows someone: every explanation chart and the network are drawn.
    follows = Follow.objects.filter(follower=OuterRef("pk"))
    scored = Recommendation.objects.filter(customer=OuterRef("pk"), model_version=version)
    customer = Customer.objects.filter(Exists(follows), Exists(scored)).order_by("pk").first()
    page.goto(f"{url}/dashboard/customers/")
    shot(page, "customers")
    page.goto(f"{url}/dashboard/customers/{customer.pk}/")
    for figure in ("signals", "friends", "recent", "network"):
        page.wait_for_selector(f"[data-figure={figure}] .main-svg")
    assert page.locator("[data-testid=sentence]").inner_text().startswith("“Because")
    page.select_option("#what-if-product", index=3)
    page.click("#what-if button[type=submit]")
    page.wait_for_selector("#what-if-result [data-testid=rec-list] li")
    shot(page, "customer")

    product_id = page.locator("#current-recs [data-testid=rec-list] li").first.get_attribute("data-product")
    page.goto(f"{url}/dashboard/products/{product_id}/")
    page.wait_for_selector("[data-testid=top-customers] td a")
    shot(page, "product")

    # Preview a pin rule on this customer's list (nothing is saved by a preview).
    page.goto(f"{url}/dashboard/rules/")
    page.fill("#id_name", "Pin a product")
    page.select_option("#id_action", "pin")
    page.select_option("#id_product", index=5)
    page.select_option("#id_preview_customer", str(customer.pk))
    page.click("button[value=preview]")
    page.wait_for_selector("[data-testid=rule-preview]")
    shot(page, "rules")

    # A campaign: create it, see its audience and email previews, download the CSV.
    page.goto(f"{url}/dashboard/campaigns/new/")
    page.fill("#id_name", "Spring picks")
    page.fill("#id_items_per_customer", "3")
    page.fill("#id_discount_percent", "10")
    page.select_option("#id_widget_style", "grid")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_selector("[data-testid=audience-size]")
    audience = int(page.locator("[data-testid=audience-size]").inner_text())
    assert audience == Customer.objects.filter(marketing_opt_in=True).exclude(email="").count() > 0
    for i in range(page.locator("[data-testid=email-preview]").count()):
        email = page.frame_locator("[data-testid=email-preview]").nth(i)
        email.locator("text=picked for you").wait_for()
        email.locator("text=10% off with your code").wait_for()
        assert email.locator("img").count() == 3
    shot(page, "campaign")
    with page.expect_download() as download_info:
        page.click("[data-testid=export]")
    path = ARTIFACTS / "campaign.csv"
    download_info.value.save_as(str(path))
    rows = list(csv.reader(path.open()))
    assert rows[0][:3] == ["email", "name", "item1_title"] and rows[0][-2:] == ["reason", "discount_code"]
    assert len(rows) == audience + 1
    opted_in = set(Customer.objects.filter(marketing_opt_in=True).values_list("email", flat=True))
    assert {r[0] for r in rows[1:]} <= opted_in

    # Over the sync limit the export goes to the worker; the job page polls until the link appears.
    settings.DASHBOARD_EXPORT_SYNC_LIMIT = 5
    page.click("[data-testid=export]")
    page.wait_for_url("**/dashboard/exports/*/")
    page.wait_for_selector("[data-testid=download]:not([hidden])", timeout=120_000)
    assert page.locator("[data-field=progress]").inner_text() == "100 %"
    shot(page, "export-job")
    with page.expect_download() as download_info:
        page.click("[data-testid=download]")
    download_info.value.save_as(str(ARTIFACTS / "campaign-task.csv"))
    task_rows = list(csv.reader((ARTIFACTS / "campaign-task.csv").open()))
    assert task_rows == rows  # the same audience, items and codes as the streamed file

    page.goto(f"{url}/dashboard/campaigns/")
    shot(page, "campaigns")

    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    for name in MAIN_SHOTS:
        shutil.copy(ARTIFACTS / f"{name}.png", README_SHOTS / f"dashboard-{name}.png")
