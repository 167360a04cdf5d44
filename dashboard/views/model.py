from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from recommender import services
from recommender.models import ModelVersion, TrainingRun

from .. import figures
from ..access import merchandiser_required
from .common import page


def run_json(run: TrainingRun | None) -> dict:
    if run is None:
        return {"run": None}
    return {"run": {
        "id": run.pk, "state": run.state, "progress": round(run.progress, 1), "epoch": run.epoch,
        "loss": run.loss, "curve": run.curve, "error": run.error, "done": run.done,
        "model_version": run.model_version_id,
    }}


def model_page(request, status: int = 200, error: str = ""):
    versions = list(ModelVersion.objects.all()[:30])
    wanted = request.GET.get("version", "")
    selected = next((v for v in versions if str(v.pk) == wanted), None) or next(
        (v for v in versions if v.status == ModelVersion.Status.ACTIVE), versions[0] if versions else None
    )
    run = TrainingRun.objects.first()
    history = (selected.history if selected else None) or (run.curve if run else [])
    return page(request, "model.html", "model", {
        "versions": versions,
        "selected": selected,
        "run": run,
        "error": error,
        "metrics_figure": figures.html(figures.metrics_vs_baselines(selected), height=340)
        if selected and selected.metrics else "",
        "curves_figure": figures.html(figures.training_curves(history), height=300) if history else "",
    }, status=status)


@merchandiser_required
def model(request):
    return model_page(request)


@merchandiser_required
def training_progress(request):
    """The latest training run, polled by the model page while it runs."""
    return JsonResponse(run_json(TrainingRun.objects.first()))


def perform(request, action, success):
    """Run a model action; a refusal (training already running, version unusable) is a 409 on the page."""
    try:
        result = action()
    except (services.RetrainRefused, services.ActivationError) as refused:
        return model_page(request, status=409, error=str(refused))
    messages.success(request, success(result))
    return redirect("dashboard:model")


@merchandiser_required
@require_POST
def retrain(request):
    return perform(request, lambda: services.request_retrain(request.user),
                   lambda run: f"Training run #{run.pk} queued.")


@merchandiser_required
@require_POST
def activate(request, pk: int):
    version = get_object_or_404(ModelVersion, pk=pk)
    reason = f"activated by {request.user.get_username()} in the dashboard"
    return perform(request, lambda: services.activate(version, reason=reason),
                   lambda active: f"v{active.pk} is now serving.")


@merchandiser_required
@require_POST
def rollback(request):
    return perform(request, services.rollback, lambda active: f"Rolled back: v{active.pk} is serving again.")
