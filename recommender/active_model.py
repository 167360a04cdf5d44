"""The active model, loaded once per process and reloaded when the active version changes.

Each web/worker process keeps one `Recommender` in memory. Which version is active is
re-read from the database at most every RECOMMENDER_ACTIVE_CHECK_SECONDS, so activating
or rolling back a version reaches every process within that interval without a restart.
A missing or corrupt artifact is remembered (per version) as `error`, so serving falls
back to trending instead of retrying the load on every request.
"""
import logging
import sys
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage

from .models import ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    version_id: int
    recommender: object | None  # recommender.ml.serve.Recommender, None when it failed to load
    error: str = ""

    @property
    def label(self) -> str:
        return f"model:{self.version_id}"

    @property
    def ok(self) -> bool:
        return self.recommender is not None


_lock = threading.Lock()
_loaded: LoadedModel | None = None
_checked_at = 0.0
_active_id: int | None = None


def _check_interval() -> float:
    return float(getattr(settings, "RECOMMENDER_ACTIVE_CHECK_SECONDS", 2.0))


def load_artifact(version: ModelVersion):
    """The version's Recommender from Django's storage; raises on a missing or corrupt file."""
    from recommender.ml.serve import Recommender

    if not version.artifact or not default_storage.exists(version.artifact.name):
        raise FileNotFoundError(f"artifact {version.artifact.name or '(none)'} is missing")
    with default_storage.open(version.artifact.name, "rb") as handle:
        return Recommender.load(handle, map_location="cpu")


def limit_torch_threads() -> None:
    """Web processes serve many small requests at once: one torch thread each (workers of a
    2-core box fighting over intra-op threads is what ruins tail latency). Celery workers
    keep torch's default so training uses every core."""
    if any("celery" in arg for arg in sys.argv[:3]):
        return
    import torch

    torch.set_num_threads(int(getattr(settings, "RECOMMENDER_SERVING_TORCH_THREADS", 1)))


def _load(version_id: int) -> LoadedModel:
    limit_torch_threads()
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return LoadedModel(version_id, None, "version no longer exists")
    try:
        return LoadedModel(version_id, load_artifact(version))
    except Exception as exc:  # any unreadable artifact must degrade to trending, never a 500
        logger.error("model:%s could not be loaded, serving falls back to trending: %s", version_id, exc)
        return LoadedModel(version_id, None, f"artifact unavailable ({type(exc).__name__}: {exc})"[:300])


def active_model() -> LoadedModel | None:
    """The active version's model (possibly failed to load), or None when no version is active."""
    global _loaded, _checked_at, _active_id
    now = time.monotonic()
    if now - _checked_at >= _check_interval():
        _active_id = (
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("pk", flat=True).first()
        )
        _checked_at = now
    if _active_id is None:
        return None
    loaded = _loaded
    if loaded is None or loaded.version_id != _active_id:
        with _lock:
            if _loaded is None or _loaded.version_id != _active_id:
                _loaded = _load(_active_id)
            loaded = _loaded
    return loaded


def forget() -> None:
    """Drop the cached model and re-read the active version on next use (tests, activation)."""
    global _loaded, _checked_at, _active_id
    with _lock:
        _loaded, _checked_at, _active_id = None, 0.0, None
