"""What the admin, the API, the dashboard and the management command do to models:
request a retrain, activate a version, roll back."""
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import active_model
from .models import ModelVersion, TrainingRun

logger = logging.getLogger(__name__)


class RetrainRefused(Exception):
    """Another training run holds the lock; `.run` is that run."""

    def __init__(self, run: TrainingRun | None):
        self.run = run
        if run is None:
            message = "Another training run is already queued or running."
        else:
            message = (
                f"Training run #{run.pk} is already {run.get_state_display().lower()} "
                f"({run.progress:.0f}%); wait for it to finish before retraining."
            )
        super().__init__(message)


class ActivationError(ValueError):
    pass


def train_time_limit() -> float:
    """Seconds a training run may take (0: no limit), from RECOMMENDER_TRAIN_TIME_LIMIT."""
    return float(settings.RECOMMENDER_TRAIN_TIME_LIMIT)


def stale_after() -> timedelta:
    """A locked run not updated for longer than the time limit (plus Celery's hard-limit margin
    and some) lost its worker for good. Runs report progress every epoch, so a live one is
    never that quiet; with no limit (0) the default two hours stand in."""
    limit = train_time_limit() or 2 * 3600
    return timedelta(seconds=limit + 1200)


def release_stale_lock() -> None:
    cutoff = timezone.now() - stale_after()
    TrainingRun.objects.filter(lock=True, updated__lt=cutoff).update(
        lock=None, state=TrainingRun.State.FAILED, finished=timezone.now(),
        error="abandoned: no progress reported within the training time limit",
    )


def request_retrain(user=None) -> TrainingRun:
    """Create a queued TrainingRun and enqueue `train_model` once it is committed.

    Raises RetrainRefused when a run is already queued or running (the unique `lock`
    constraint decides, so two simultaneous requests in different processes cannot both win).
    """
    release_stale_lock()
    triggered_by = user if user is not None and user.is_authenticated else None
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(task_id=str(uuid.uuid4()), triggered_by=triggered_by, lock=True)
            transaction.on_commit(lambda: enqueue_training(run))
    except IntegrityError:
        raise RetrainRefused(TrainingRun.objects.filter(lock=True).first()) from None
    return run


def enqueue_training(run: TrainingRun) -> None:
    from .tasks import train_model

    try:
        train_model.apply_async(args=[run.pk], task_id=run.task_id)
    except Exception as exc:  # broker down: fail the run now instead of holding the lock forever
        logger.exception("could not enqueue training run %s", run.pk)
        TrainingRun.objects.filter(pk=run.pk, state=TrainingRun.State.QUEUED).update(
            state=TrainingRun.State.FAILED, lock=None, finished=timezone.now(), error=f"could not enqueue: {exc}"
        )


def activate(version: ModelVersion, reason: str = "activated by hand") -> ModelVersion:
    """Make `version` the one serving (its artifact must load); the active one is retired."""
    from .active_model import load_artifact

    if version.status not in (ModelVersion.Status.READY, ModelVersion.Status.RETIRED, ModelVersion.Status.ACTIVE):
        raise ActivationError(f"v{version.pk} is {version.status}: only a ready or retired version can be activated")
    try:
        load_artifact(version)
    except Exception as exc:
        raise ActivationError(f"v{version.pk} cannot be activated: its artifact does not load ({exc})") from exc
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status == ModelVersion.Status.ACTIVE:
            return version
        promote(version, reason)
    return version


def promote(version: ModelVersion, reason: str) -> None:
    """Inside a transaction: retire the active version, activate this one, rescore after commit."""
    from .tasks import score_customers

    ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exclude(pk=version.pk).update(
        status=ModelVersion.Status.RETIRED
    )
    version.status = ModelVersion.Status.ACTIVE
    version.activated_at = timezone.now()
    version.notes = "\n".join(filter(None, [version.notes, f"{timezone.now():%Y-%m-%d %H:%M} {reason}"]))
    version.save(update_fields=["status", "activated_at", "notes"])
    transaction.on_commit(active_model.forget)
    transaction.on_commit(lambda: score_customers.delay(version.pk))


def rollback() -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    current = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    previous = (
        ModelVersion.objects.filter(status=ModelVersion.Status.RETIRED, activated_at__isnull=False)
        .exclude(pk=getattr(current, "pk", None))
        .order_by("-activated_at", "-pk")
        .first()
    )
    if previous is None:
        raise ActivationError("There is no earlier active version to roll back to.")
    return activate(previous, reason=f"rolled back from v{current.pk}" if current else "rolled back")
