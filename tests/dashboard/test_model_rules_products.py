"""Model page actions, rule previews and the product page, against the recommender's services."""
import pytest
from django.urls import reverse

from recommender import serving
from recommender.models import MerchandisingRule, ModelVersion, Recommendation, TrainingRun
from shop.models import Product

from . import factories as f


def test_retrain_queues_one_run_and_refuses_a_second(merch_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = merch_client.post(reverse("dashboard:retrain"))
        second = merch_client.post(reverse("dashboard:retrain"))
    assert first.status_code == 302 and TrainingRun.objects.count() == 1
    run = TrainingRun.objects.get()
    assert run.triggered_by.username == "merch"
    assert second.status_code == 409 and f"Training run #{run.pk} is already" in second.content.decode()
    progress = merch_client.get(reverse("dashboard:training_progress")).json()["run"]
    assert progress["id"] == run.pk and progress["state"] == "queued" and progress["done"] is False


def test_progress_json_follows_the_run(merch_client):
    run = TrainingRun.objects.create(state=TrainingRun.State.RUNNING, progress=42.5, epoch=3, loss=0.5,
                                     curve=[{"epoch": 1, "loss": 0.9, "val_ndcg@10": 0.1}])
    data = merch_client.get(reverse("dashboard:training_progress")).json()["run"]
    assert (data["id"], data["progress"], data["epoch"], data["loss"], data["done"]) == (run.pk, 42.5, 3, 0.5, False)
    TrainingRun.objects.filter(pk=run.pk).update(state=TrainingRun.State.SUCCEEDED, progress=100)
    data = merch_client.get(reverse("dashboard:training_progress")).json()["run"]
    assert data["progress"] == 100 and data["done"] is True


def test_activating_a_version_whose_artifact_is_missing_is_refused(merch_client):
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    response = merch_client.post(reverse("dashboard:activate", args=[version.pk]))
    assert response.status_code == 409 and "artifact" in response.content.decode()
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY


def test_rollback_without_an_earlier_version_says_so(merch_client):
    response = merch_client.post(reverse("dashboard:rollback"))
    assert response.status_code == 409 and "no earlier active version" in response.content.decode()


def test_activate_and_roll_back_with_real_versions(merch_client, trained, django_capture_on_commit_callbacks):
    from recommender.models import ModelVersion as MV

    other = MV.objects.create(status=MV.Status.READY, artifact=trained.artifact.name)
    with django_capture_on_commit_callbacks(execute=False):
        assert merch_client.post(reverse("dashboard:activate", args=[other.pk])).status_code == 302
    assert MV.objects.get(status=MV.Status.ACTIVE) == other
    with django_capture_on_commit_callbacks(execute=False):
        assert merch_client.post(reverse("dashboard:rollback")).status_code == 302
    assert MV.objects.get(status=MV.Status.ACTIVE) == trained


def rule_form(**values) -> dict:
    return {"name": "r", "action": "pin", "strength": 1.0, "position": 1, "widget": "", "active": "on", **values}


def test_rule_preview_shows_the_effect_without_saving(merch_client, trained):
    rec = Recommendation.objects.filter(model_version=trained, rank=1).select_related("customer").first()
    listed = set(Recommendation.objects.filter(model_version=trained, customer=rec.customer)
                 .values_list("product_id", flat=True))
    outsider = Product.objects.filter(active=True, stock__gt=0).exclude(pk__in=listed).first()
    response = merch_client.post(reverse("dashboard:rules"), rule_form(
        product=outsider.pk, preview_customer=rec.customer.pk, intent="preview"))
    assert response.status_code == 200
    preview = response.context["preview"]
    assert outsider.pk not in [i.product.pk for i in preview["before"]]
    assert preview["after"][0]["item"].product == outsider and preview["after"][0]["was"] is None
    assert [row["item"].product.pk for row in preview["after"][1:]] == [i.product.pk for i in preview["before"][:7]]
    assert not MerchandisingRule.objects.exists()
    saved = merch_client.post(reverse("dashboard:rules"), rule_form(product=outsider.pk, intent="save"))
    assert saved.status_code == 302
    rule = MerchandisingRule.objects.get()
    assert rule.created_by.username == "merch" and rule.product == outsider
    assert serving.recommend(customer=rec.customer, n=3).items[0].product == outsider


@pytest.mark.parametrize("values,field,message", [
    ({}, "__all__", "exactly one target"),
    ({"widget": "sidebar", "category": "c"}, "widget", "Unknown widget"),
    ({"category": "c", "action": "boost", "strength": -1}, "strength", "must be positive"),
    ({"category": "c", "intent": "preview"}, "preview_customer", "Choose a customer"),
])
def test_bad_rules_get_400_naming_the_field(merch_client, values, field, message):
    cat = f.category("Things")
    values = {k: (cat.pk if v == "c" else v) for k, v in values.items()}
    response = merch_client.post(reverse("dashboard:rules"), rule_form(**values))
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors[field])
    assert not MerchandisingRule.objects.exists()


def test_product_page_lists_the_models_likely_buyers(merch_client, trained):
    product = Recommendation.objects.filter(model_version=trained, rank=1).first().product
    response = merch_client.get(reverse("dashboard:product", args=[product.pk]))
    assert response.status_code == 200
    top = response.context["top_customers"]
    assert top and top == serving.top_customers_for_product(product, 20)
    assert response.context["related"].items


def test_training_curves_draw_one_loss_and_one_validation_line_per_tower():
    from dashboard.figures import training_curves

    history = [{"tower": "graph", "epoch": 1, "loss": 8.0, "val_ndcg@10": 0.1},
               {"tower": "graph", "epoch": 2, "loss": 7.0, "val_ndcg@10": 0.2},
               {"tower": "sequence", "epoch": 61, "loss": 9.0, "val_ndcg@10": 0.15}]
    names = [(trace.name, list(trace.x)) for trace in training_curves(history).data]
    assert names == [("graph loss", [1, 2]), ("graph val NDCG@10", [1, 2]),
                     ("sequence loss", [61]), ("sequence val NDCG@10", [61])]
    older = [{"epoch": 1, "loss": 8.0, "val_ndcg@10": 0.1}]  # runs from before the towers
    assert [trace.name for trace in training_curves(older).data] == ["loss", "val NDCG@10"]
