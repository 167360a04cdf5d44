"""Full-ranking evaluation under the leave-last-out protocol of DESIGN.md.

Every model (hybrid, ablations, baselines) is scored by the same `evaluate`: it asks the model
for scores over the whole catalogue, one batch of users at a time (never a dense
n_users x n_items matrix), masks what the user has already seen, and ranks the held-out item.

Masking rules
- split="val": the user's train items are masked.
- split="test": train items and the validation item are masked (the validation item is history).
- the held-out item itself is never masked, even when the user also met it earlier.

Ties count against the held-out item: rank = 1 + items scoring higher + other items scoring
equal, so a constant score ranks the held-out item last among the unmasked items.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

SPLITS = ("val", "test")
ScoreFn = Callable[[Tensor, str], Tensor]


def recall_at_k(ranks: Tensor, k: int) -> Tensor:
    """Per user: 1 when the held-out item is in the top k (ranks are 1-based)."""
    return (ranks <= k).float()


def ndcg_at_k(ranks: Tensor, k: int) -> Tensor:
    """Per user: 1 / log2(rank + 1) inside the top k, else 0 (one relevant item, so IDCG = 1)."""
    ranks = ranks.double()
    gain = 1.0 / torch.log2(ranks + 1.0)
    return torch.where(ranks <= k, gain, torch.zeros_like(gain)).float()


def mrr(ranks: Tensor) -> Tensor:
    """Per user: reciprocal rank, no cutoff."""
    return 1.0 / ranks.double()


def coverage(topk_items: Tensor, n_items: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    if n_items <= 0:
        raise ValueError("coverage needs a catalogue of at least one item")
    if topk_items.numel() == 0:
        return 0.0
    return torch.unique(topk_items).numel() / n_items


def targets_for(dataset, split: str) -> Tensor:
    """The held-out item per user for a split (-1 where the user has none)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return dataset.val_items if split == "val" else dataset.test_items


class SeenItems:
    """Each user's train items as CSR rows, to build per-batch masks without a dense matrix."""

    def __init__(self, n_users: int, users: Tensor, items: Tensor):
        users = users.long().cpu()
        order = torch.argsort(users, stable=True)
        self.items = items.long().cpu()[order]
        counts = torch.bincount(users, minlength=n_users)
        self.indptr = torch.zeros(n_users + 1, dtype=torch.long)
        self.indptr[1:] = torch.cumsum(counts, 0)

    def rows_cols(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """(row in batch, item) pairs of every train item of the batch's users."""
        starts, ends = self.indptr[batch], self.indptr[batch + 1]
        counts = ends - starts
        rows = torch.repeat_interleave(torch.arange(len(batch)), counts)
        # position of each entry inside its user's row: global index minus the row's first index
        first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        cols = self.items[torch.repeat_interleave(starts, counts) + torch.arange(int(counts.sum())) - first]
        return rows, cols


def seen_mask(seen: SeenItems, dataset, batch: Tensor, split: str, n_items: int) -> Tensor:
    """[B, n_items] bool: items to leave out of the ranking for these users in this split."""
    mask = torch.zeros(len(batch), n_items, dtype=torch.bool)
    rows, cols = seen.rows_cols(batch)
    mask[rows, cols] = True
    if split == "test":
        val = dataset.val_items[batch].long().cpu()
        has_val = val >= 0
        mask[torch.arange(len(batch))[has_val], val[has_val]] = True
    return mask


def rank_targets(scores: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """1-based rank of each target among the unmasked items; ties count against the target."""
    scores = torch.nan_to_num(scores.float(), nan=-math.inf)
    rows = torch.arange(len(targets))
    mask = mask.clone()
    mask[rows, targets] = False  # the held-out item is never masked
    target_scores = scores[rows, targets].unsqueeze(1)
    beats = (scores >= target_scores) & ~mask  # includes the target itself once
    return beats.sum(1)


def evaluate(score_fn: ScoreFn, dataset, split: str = "val", ks=(10, 20), batch_size: int = 1024,
             users: Tensor | None = None, coverage_k: int = 10) -> dict:
    """Mean Recall@k, NDCG@k, MRR and coverage@coverage_k over the users with a held-out item.

    `score_fn(users, split)` returns [len(users), n_items] scores (any device).
    Returns {"recall@10", "ndcg@10", ..., "mrr", "coverage@10", "users"}.
    """
    targets_all = targets_for(dataset, split).long().cpu()
    n_items = int(dataset.n_items)
    if users is None:
        users = torch.arange(int(dataset.n_users))
    users = users.long().cpu()
    users = users[targets_all[users] >= 0]

    seen = SeenItems(int(dataset.n_users), dataset.train_users, dataset.train_items)
    sums = {f"{name}@{k}": 0.0 for k in ks for name in ("recall", "ndcg")}
    sums["mrr"] = 0.0
    top_lists = []
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        with torch.no_grad():
            scores = score_fn(batch, split)
        if tuple(scores.shape) != (len(batch), n_items):
            raise ValueError(f"score_fn returned shape {tuple(scores.shape)}, expected ({len(batch)}, {n_items})")
        scores = scores.detach().float().cpu()
        mask = seen_mask(seen, dataset, batch, split, n_items)
        ranks = rank_targets(scores, targets_all[batch], mask)
        for k in ks:
            sums[f"recall@{k}"] += float(recall_at_k(ranks, k).sum())
            sums[f"ndcg@{k}"] += float(ndcg_at_k(ranks, k).sum())
        sums["mrr"] += float(mrr(ranks).sum())
        masked = torch.nan_to_num(scores, nan=-math.inf).masked_fill(mask, -math.inf)
        top_lists.append(torch.topk(masked, min(coverage_k, n_items), dim=1).indices)

    n = len(users)
    result = {key: (value / n if n else 0.0) for key, value in sums.items()}
    top = torch.cat(top_lists) if top_lists else torch.empty(0, dtype=torch.long)
    result[f"coverage@{coverage_k}"] = coverage(top, n_items)
    result["users"] = n
    return result
