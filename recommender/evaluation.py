"""The active model, scored on a new snapshot's validation split: the bar a new model must meet.

The incumbent was trained on an older snapshot, so its id maps differ: its scores are mapped
onto the new catalogue by id. Products it never saw score -inf and customers it never saw
score a constant row (ties count against the held-out item), i.e. it earns nothing where it
cannot recommend, exactly as a full-ranking metric should treat it.
"""
import logging
from dataclasses import dataclass

import torch

from .active_model import load_artifact
from .models import ModelVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incumbent:
    version_id: int
    ndcg10: float | None  # None: the active model could not be evaluated (see note)
    note: str = ""


def incumbent_score_fn(recommender, dataset):
    """score_fn(users, split) for recommender.ml.metrics.evaluate over `dataset`'s indices."""
    item_map = torch.tensor([recommender.item_index.get(i, -1) for i in dataset.item_ids], dtype=torch.long)
    known_cols = torch.nonzero(item_map >= 0).flatten()
    old_cols = item_map[known_cols]

    def score(users: torch.Tensor, split: str) -> torch.Tensor:
        out = torch.zeros(len(users), dataset.n_items)
        rows, old_users, histories = [], [], []
        for row, user in enumerate(users.tolist()):
            old_user = recommender.user_index.get(dataset.user_ids[user])
            if old_user is None:
                continue
            rows.append(row)
            old_users.append(old_user)
            history = (recommender.item_index.get(dataset.item_ids[i]) for i in dataset.history(user, split))
            histories.append([i for i in history if i is not None])
        if rows:
            with torch.no_grad():
                scores = recommender.model.scores(torch.tensor(old_users), histories)
            mapped = torch.full((len(rows), dataset.n_items), float("-inf"))
            mapped[:, known_cols] = scores[:, old_cols]
            out[torch.tensor(rows)] = mapped
        return out

    return score


def active_validation_ndcg(dataset) -> Incumbent | None:
    """None when no version is active; otherwise its validation NDCG@10 on this split."""
    from recommender.ml.metrics import evaluate

    version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if version is None:
        return None
    try:
        recommender = load_artifact(version)
        metrics = evaluate(incumbent_score_fn(recommender, dataset), dataset, "val", batch_size=512)
    except Exception as exc:  # a broken incumbent must not block a working replacement
        logger.warning("could not evaluate active v%s on the new split: %s", version.pk, exc)
        return Incumbent(version.pk, None, f"v{version.pk} could not be evaluated ({type(exc).__name__}: {exc})")
    return Incumbent(version.pk, float(metrics["ndcg@10"]))
