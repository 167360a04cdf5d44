"""One training run, start to finish: snapshot → train → baselines → artifact → (maybe) activate.

Idempotent by TrainingRun id: a redelivered task (its worker was killed) restarts the same
run and reuses its ModelVersion row; the run finishes in one transaction that also activates
the version, so however often the message is delivered exactly one new version goes live.

Time limit: the run checks RECOMMENDER_TRAIN_TIME_LIMIT itself, after every epoch (the
training's progress callback) and between phases, and fails with "time limit of N s
exceeded". Celery's own soft/hard limits are enforced under the prefork pool only, and the
workers here run `--pool solo`, where they do nothing; this check holds under any pool. It
can overshoot by one epoch or one phase (a phase that never returns is only caught by
Celery's limits under prefork, or by the stale-lock release in services.py).
"""
import io
import logging
import time
import traceback
import uuid
from collections import deque

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from .models import ModelVersion, TrainingRun
from .services import promote, train_time_limit
from .snapshot import take_snapshot

logger = logging.getLogger(__name__)

LOG_LINES = 40
HEAD_LINES = 4
# Share of the progress bar each phase ends at (training fills the space between).
SNAPSHOT_DONE, TRAINING_DONE, BASELINES_DONE = 10.0, 80.0, 92.0


class RunProgress:
    """Writes progress, the curve and a log tail to the TrainingRun row as training goes."""

    def __init__(self, run: TrainingRun):
        self.run_id = run.pk
        self.curve: list[dict] = []
        # The lines claim() wrote (started / redelivered) stay on top; the rest scrolls.
        self.head = run.log_tail.splitlines()[-HEAD_LINES:]
        self.lines: deque[str] = deque(maxlen=LOG_LINES)

    def log(self, message: str, **fields) -> None:
        self.lines.append(f"{timezone.now():%H:%M:%S} {message}")
        logger.info("training run %s: %s", self.run_id, message)
        text = "\n".join([*self.head, *self.lines])
        TrainingRun.objects.filter(pk=self.run_id).update(log_tail=text, updated=timezone.now(), **fields)

    def epoch(self, point: dict) -> None:
        epochs = max(int(point.get("epochs") or 1), 1)
        self.curve.append({k: point[k] for k in ("tower", "epoch", "loss", "val_ndcg@10") if k in point})
        done = SNAPSHOT_DONE + (TRAINING_DONE - SNAPSHOT_DONE) * min(point["epoch"] / epochs, 1.0)
        self.log(
            f"{point.get('tower', 'model')} tower, epoch {point['epoch']}/{epochs} loss {point['loss']:.4f} val ndcg@10 {point.get('val_ndcg@10', 0):.4f}",
            progress=round(done, 1), epoch=point["epoch"], loss=point["loss"], curve=self.curve,
        )


class TrainingTimeLimitExceeded(Exception):
    """The run took longer than RECOMMENDER_TRAIN_TIME_LIMIT (checked between epochs and phases)."""


_clock = time.monotonic  # the run's clock (tests replace it)


class Deadline:
    """The run's time limit, checked cooperatively: `check()` raises once it has passed."""

    def __init__(self, seconds: float, clock=None):
        self.seconds, self.clock = seconds, clock or _clock
        self.started = self.clock()

    def check(self, where: str) -> None:
        elapsed = self.clock() - self.started
        if self.seconds > 0 and elapsed > self.seconds:
            raise TrainingTimeLimitExceeded(
                f"time limit of {self.seconds:g} s exceeded {where} (after {elapsed:.1f} s)")


def claim(run_id: int, task_id: str) -> TrainingRun | None:
    """Mark the run running (again, if redelivered); None when it already finished."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.done:
            return None
        restarted = run.state == TrainingRun.State.RUNNING
        version = run.model_version or ModelVersion.objects.create(status=ModelVersion.Status.TRAINING)
        if version.status != ModelVersion.Status.TRAINING:
            ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.TRAINING)
        note = "redelivered after the worker was lost: restarting" if restarted else "started"
        run.log_tail = "\n".join(filter(None, [run.log_tail, f"{timezone.now():%H:%M:%S} {note}"]))
        run.state, run.model_version, run.task_id = TrainingRun.State.RUNNING, version, task_id or run.task_id
        run.started, run.progress, run.epoch, run.loss, run.curve = timezone.now(), 0.0, 0, None, []
        run.save()
        return run


def train_config():
    from recommender.ml.train import TrainConfig

    values = {"epochs": settings.RECOMMENDER_TRAIN_EPOCHS, **getattr(settings, "RECOMMENDER_TRAIN_CONFIG", {})}
    return TrainConfig.from_dict(values)


def execute(run_id: int, task_id: str = "") -> str:
    """The whole run; returns what happened. Any failure marks the run (and its version)
    failed with the error and re-raises; the active model keeps serving."""
    run = claim(run_id, task_id)
    if run is None:
        return f"run {run_id} already finished"
    progress = RunProgress(run)
    deadline = Deadline(train_time_limit())
    try:
        return _train_and_publish(run, progress, deadline)
    except BaseException as exc:  # SoftTimeLimitExceeded included: record it, then let Celery see it
        fail(run, exc, progress)
        raise


def _train_and_publish(run: TrainingRun, progress: RunProgress, deadline: Deadline) -> str:
    from recommender.ml.baselines import run_baselines
    from recommender.ml.serve import Recommender
    from recommender.ml.train import train

    config = train_config()
    snapshot = take_snapshot()
    dataset = snapshot.dataset
    progress.log(f"snapshot: {dataset.n_users} customers, {dataset.n_items} products", progress=SNAPSHOT_DONE)
    deadline.check("after the snapshot")

    def on_epoch(point: dict) -> None:
        progress.epoch(point)
        deadline.check(f"at epoch {point['epoch']}")

    result = train(dataset, config, device=settings.RECOMMENDER_DEVICE, progress=on_epoch)
    progress.log(f"trained on {result.device} in {result.train_seconds:.1f}s", progress=TRAINING_DONE)
    deadline.check("after training")
    names = tuple(getattr(settings, "RECOMMENDER_BASELINES", ("pop", "itemknn")))
    baselines = {}
    if names:  # the neural baselines report each epoch, the deadline is checked there too
        baselines = run_baselines(dataset, names=names, device=settings.RECOMMENDER_DEVICE,
                                  progress=lambda point: deadline.check(f"in baseline {point.get('model')}"))
    progress.log(f"baselines: {', '.join(names) or 'none'}", progress=BASELINES_DONE)
    deadline.check("after the baselines")
    recommender = Recommender.from_training(result, dataset)
    buffer = io.BytesIO()
    recommender.save(buffer)
    artifact = default_storage.save(f"models/run-{run.pk}-{uuid.uuid4().hex[:8]}.pt", ContentFile(buffer.getvalue()))
    incumbent = _incumbent_score(dataset)
    try:
        deadline.check("before activation")
    except TrainingTimeLimitExceeded:
        default_storage.delete(artifact)
        raise
    published = publish(run, result, baselines, artifact, snapshot.stats, incumbent)
    if not published:
        default_storage.delete(artifact)
        return f"run {run.pk} was finished by another delivery"
    progress.log(published, progress=100.0)
    return published


def _incumbent_score(dataset):
    from .evaluation import active_validation_ndcg

    return active_validation_ndcg(dataset)


def decide(version: ModelVersion, new: float, incumbent) -> tuple[bool, str]:
    """(activate?, why): a new version goes live unless it is worse than the active one."""
    if incumbent is None:
        return True, f"activated v{version.pk}: first model (validation NDCG@10 {new:.4f})"
    old = f"v{incumbent.version_id}"
    if incumbent.ndcg10 is None:
        return True, f"activated v{version.pk}: validation NDCG@10 {new:.4f}; {incumbent.note}"
    if new >= incumbent.ndcg10:
        return True, f"activated v{version.pk}: validation NDCG@10 {new:.4f} >= {old}'s {incumbent.ndcg10:.4f} on this split"
    return False, (f"kept {old} active: v{version.pk}'s validation NDCG@10 {new:.4f} is worse than "
                   f"{old}'s {incumbent.ndcg10:.4f} on the same split")


def publish(run, result, baselines, artifact: str, stats: dict, incumbent) -> str:
    """In one transaction: fill the version, activate it if it is not worse, close the run."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.state != TrainingRun.State.RUNNING:
            return ""
        version = ModelVersion.objects.select_for_update().get(pk=run.model_version_id)
        version.config = result.config.to_dict()
        version.metrics = {"validation": result.validation, "test": result.test}
        version.baseline_metrics = baselines
        version.history = result.history
        version.artifact.name = artifact
        version.device = result.device
        version.train_seconds = result.train_seconds
        version.snapshot_stats = stats
        version.status = ModelVersion.Status.READY
        version.save()
        activate, outcome = decide(version, float(result.validation.get("ndcg@10", 0.0)), incumbent)
        if activate:
            promote(version, outcome)
        else:
            version.notes = outcome
            version.save(update_fields=["notes"])
        run.state, run.progress, run.finished, run.lock = TrainingRun.State.SUCCEEDED, 100.0, timezone.now(), None
        run.save(update_fields=["state", "progress", "finished", "lock", "updated"])
        return outcome


def fail(run: TrainingRun, exc: BaseException, progress: RunProgress) -> None:
    error = f"{type(exc).__name__}: {exc}"
    logger.error("training run %s failed: %s", run.pk, error)
    try:
        progress.log(f"failed: {error}")
        with transaction.atomic():
            TrainingRun.objects.filter(pk=run.pk, state=TrainingRun.State.RUNNING).update(
                state=TrainingRun.State.FAILED, finished=timezone.now(), lock=None,
                error=f"{error}\n\n{traceback.format_exc(limit=8)}"[:20000],
            )
            ModelVersion.objects.filter(pk=run.model_version_id, status=ModelVersion.Status.TRAINING).update(
                status=ModelVersion.Status.FAILED, notes=error[:2000]
            )
    except Exception:  # the database itself is down: the stale-lock check releases the run later
        logger.exception("could not mark training run %s failed", run.pk)
