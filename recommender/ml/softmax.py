"""Softmax cross-entropy over a table of candidate items, computed in row chunks.

    loss_n = logsumexp([<u_n, p_n>, <u_n, c_k> for k not excluded for n]) - <u_n, p_n>

`p_n` is the target's vector and `c_k` the candidates (sampled negatives shared by the batch; a
negative that is the row's own target is excluded from that row). The [N, K]
logits of a batch (150k targets x 1024 negatives = 600 MB at scale) are never materialized: the
forward keeps only each row's logsumexp and the backward recomputes the logits chunk by chunk,
so every pass over them stays in cache. On the 2-core CPU, at 150k targets x 1024 negatives, forward
+ backward take 0.75 s against 1.84 s for `F.cross_entropy(torch.cat([pos, u @ c.T]))` with a
dense accidental-hit mask. (For a full softmax over a small catalogue the dense
`F.cross_entropy` is faster, so train.py keeps it there.)
"""
from __future__ import annotations

import torch
from torch import Tensor

CHUNK_ROWS = 2048


def _chunk_logits(u: Tensor, candidates: Tensor, begin: int, end: int, hit_rows: Tensor,
                  hit_cols: Tensor, hit_bounds: Tensor) -> Tensor:
    logits = u[begin:end] @ candidates.T
    lo, hi = int(hit_bounds[0]), int(hit_bounds[1])
    if hi > lo:
        logits[hit_rows[lo:hi] - begin, hit_cols[lo:hi]] = float("-inf")
    return logits


class _CandidateSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, positives, candidates, hit_rows, hit_cols):
        n = u.shape[0]
        starts = torch.arange(0, n, CHUNK_ROWS, device=u.device)
        # hit_rows is sorted: the excluded cells of each chunk are one slice of (hit_rows, hit_cols)
        bounds = torch.searchsorted(hit_rows, torch.cat([starts, starts.new_tensor([n])]))
        positive = (u * positives).sum(-1)
        lse = torch.empty_like(positive)
        for k, begin in enumerate(range(0, n, CHUNK_ROWS)):
            end = min(begin + CHUNK_ROWS, n)
            logits = _chunk_logits(u, candidates, begin, end, hit_rows, hit_cols, bounds[k:k + 2])
            lse[begin:end] = torch.logaddexp(positive[begin:end], torch.logsumexp(logits, 1))
        ctx.save_for_backward(u, positives, candidates, hit_rows, hit_cols, bounds, positive, lse)
        return (lse - positive).mean()

    @staticmethod
    def backward(ctx, grad):
        u, positives, candidates, hit_rows, hit_cols, bounds, positive, lse = ctx.saved_tensors
        n = u.shape[0]
        scale = grad / n
        grad_u, grad_c = torch.empty_like(u), torch.zeros_like(candidates)
        p_pos = (torch.exp(positive - lse) - 1)[:, None] * scale  # d loss / d <u, p>
        for k, begin in enumerate(range(0, n, CHUNK_ROWS)):
            end = min(begin + CHUNK_ROWS, n)
            logits = _chunk_logits(u, candidates, begin, end, hit_rows, hit_cols, bounds[k:k + 2])
            probs = torch.exp(logits - lse[begin:end, None]) * scale  # excluded cells are exp(-inf) = 0
            grad_u[begin:end] = probs @ candidates
            grad_c.addmm_(probs.T, u[begin:end])
        grad_u += p_pos * positives
        return grad_u, p_pos * u, grad_c, None, None


def candidate_softmax_loss(user_vecs: Tensor, positives: Tensor, candidates: Tensor,
                           hit_rows: Tensor, hit_cols: Tensor) -> Tensor:
    """Mean loss; (hit_rows, hit_cols) are the excluded logits, hit_rows sorted ascending."""
    return _CandidateSoftmax.apply(user_vecs, positives, candidates, hit_rows, hit_cols)


def sampled_softmax_loss(user_vecs: Tensor, items: Tensor, targets: Tensor, negatives: Tensor) -> Tensor:
    """Softmax over each target and the shared sampled negatives; a negative that is the row's own
    target (an accidental hit) is excluded from that row."""
    is_negative = torch.zeros(items.shape[0], dtype=torch.bool, device=items.device)
    is_negative[negatives] = True
    hit_rows = is_negative[targets].nonzero().squeeze(1)
    if len(hit_rows):
        rows, cols = (negatives[None] == targets[hit_rows][:, None]).nonzero(as_tuple=True)
        hit_rows, hit_cols = hit_rows[rows], cols
    else:
        hit_cols = hit_rows
    # index_select: its backward is an index_add, cheaper on the CPU than indexing's sort-based one
    return candidate_softmax_loss(user_vecs, items.index_select(0, targets), items.index_select(0, negatives),
                                  hit_rows, hit_cols)

