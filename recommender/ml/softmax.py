"""Softmax cross-entropy over a table of candidate items, computed in row chunks.

    loss_n = logsumexp([<u_n, p_n>, <u_n, c_k> for k not excluded for n]) - <u_n, p_n>

`p_n` is the target's vector and `c_k` the candidates (sampled negatives shared by the batch; a
negative that is the row's own target is excluded from that row). The [N, K]
logits of a batch (150k targets x 1024 negatives = 600 MB at scale) are never materialized at
once: the forward computes them chunk by chunk and keeps each row's logsumexp (and the chunks
themselves, as exp(logit - row max), up to KEEP_LOGITS_BYTES; above it the backward recomputes
them), so every pass over them stays in cache. On the 2-core CPU, at 150k targets x 1024 negatives, forward
+ backward take 0.75 s against 1.84 s for `F.cross_entropy(torch.cat([pos, u @ c.T]))` with a
dense accidental-hit mask. (For a full softmax over a small catalogue the dense
`F.cross_entropy` is faster, so train.py keeps it there.)

`matmul_dtype=torch.bfloat16` does the two big products (logits, and the gradients from the
probabilities) in bfloat16 with float32 softmax arithmetic around them: on a CPU with AVX512-BF16
a [2048, 64] x [64, 1024] product takes 0.77 ms against 1.76 ms in float32 (AMD EPYC, measured
2026-11-27). Logits then carry bfloat16's ~0.4% relative error, which sampled negatives already
drown out: with the sampled loss forced on ciaodvd, bfloat16 and float32 gave the same validation and
test NDCG@10 (docs/benchmarks.md, "Sixth session"). TrainConfig.softmax_precision chooses.
"""
from __future__ import annotations

import torch
from torch import Tensor

CHUNK_ROWS = 2048
# Up to this many bytes of logits, the forward keeps them for the backward instead of the
# backward recomputing them (one of its three big products; the same numbers either way).
# A sequence batch at 50k items holds ~10 MB of them, a graph-tower batch ~700 MB.
KEEP_LOGITS_BYTES = 1 << 30


def _chunk_logits(u: Tensor, candidates: Tensor, begin: int, end: int, hit_rows: Tensor,
                  hit_cols: Tensor, hit_bounds: Tensor) -> Tensor:
    """Float32 (or float64) logits of rows begin:end; u and candidates may be bfloat16 copies."""
    logits = (u[begin:end] @ candidates.T).to(torch.promote_types(u.dtype, torch.float32))
    lo, hi = int(hit_bounds[0]), int(hit_bounds[1])
    if hi > lo:
        logits[hit_rows[lo:hi] - begin, hit_cols[lo:hi]] = float("-inf")
    return logits


def _shifted_exp(logits: Tensor, row_max: Tensor) -> Tensor:
    """exp(logits - row_max), in place (excluded cells: exp(-inf) = 0)."""
    return logits.sub_(row_max[:, None]).exp_()


class _CandidateSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, positives, candidates, hit_rows, hit_cols, matmul_dtype):
        n = u.shape[0]
        u_mm, candidates_mm = u.to(matmul_dtype), candidates.to(matmul_dtype)
        starts = torch.arange(0, n, CHUNK_ROWS, device=u.device)
        # hit_rows is sorted: the excluded cells of each chunk are one slice of (hit_rows, hit_cols)
        bounds = torch.searchsorted(hit_rows, torch.cat([starts, starts.new_tensor([n])]))
        positive = (u * positives).sum(-1)
        lse = torch.empty_like(positive)
        keep = n * candidates.shape[0] * positive.element_size() <= KEEP_LOGITS_BYTES
        row_max = torch.empty_like(positive)
        kept = []
        for k, begin in enumerate(range(0, n, CHUNK_ROWS)):
            end = min(begin + CHUNK_ROWS, n)
            logits = _chunk_logits(u_mm, candidates_mm, begin, end, hit_rows, hit_cols, bounds[k:k + 2])
            # logsumexp by hand, keeping exp(logits - row max) for the backward, which then scales
            # it instead of taking exp again (an exp per logit was ~6% of a batch at 50k items)
            row_max[begin:end] = logits.amax(1).clamp_min(torch.finfo(logits.dtype).min)  # all excluded: finite
            shifted = _shifted_exp(logits, row_max[begin:end])
            lse[begin:end] = torch.logaddexp(positive[begin:end], row_max[begin:end] + shifted.sum(1).log())
            if keep:
                kept.append(shifted)
        ctx.save_for_backward(u, positives, candidates, hit_rows, hit_cols, bounds, positive, lse, row_max, *kept)
        ctx.matmul_dtype = matmul_dtype
        return (lse - positive).mean()

    @staticmethod
    def backward(ctx, grad):
        u, positives, candidates, hit_rows, hit_cols, bounds, positive, lse, row_max, *kept = ctx.saved_tensors
        n = u.shape[0]
        scale = grad / n
        mm = ctx.matmul_dtype
        # recast rather than saved: a cast costs less than holding a second copy of u until backward
        u_mm, candidates_mm = u.to(mm), candidates.to(mm)  # no copy when mm is u's own dtype
        grad_u, grad_c = torch.empty_like(u), torch.zeros_like(candidates)
        p_pos = (torch.exp(positive - lse) - 1)[:, None] * scale  # d loss / d <u, p>
        for k, begin in enumerate(range(0, n, CHUNK_ROWS)):
            end = min(begin + CHUNK_ROWS, n)
            shifted = kept[k] if kept else _shifted_exp(
                _chunk_logits(u_mm, candidates_mm, begin, end, hit_rows, hit_cols, bounds[k:k + 2]), row_max[begin:end])
            # probabilities exp(logit - lse) = exp(logit - max) * exp(max - lse); in place: the chunk
            # is this backward's own (recomputed, or kept for it); excluded cells are 0
            probs = shifted.mul_((row_max[begin:end] - lse[begin:end]).exp_().mul_(scale)[:, None]).to(mm)
            grad_u[begin:end] = probs @ candidates_mm
            if mm == u.dtype:  # the float32 path exactly as before (addmm_ wants one dtype)
                grad_c.addmm_(probs.T, u[begin:end])
            else:
                grad_c += probs.T @ u_mm[begin:end]
        grad_u += p_pos * positives
        return grad_u, p_pos * u, grad_c, None, None, None


def candidate_softmax_loss(user_vecs: Tensor, positives: Tensor, candidates: Tensor,
                           hit_rows: Tensor, hit_cols: Tensor, matmul_dtype: torch.dtype | None = None) -> Tensor:
    """Mean loss; (hit_rows, hit_cols) are the excluded logits, hit_rows sorted ascending;
    matmul_dtype: the big products' dtype (None: user_vecs')."""
    return _CandidateSoftmax.apply(user_vecs, positives, candidates, hit_rows, hit_cols,
                                   matmul_dtype or user_vecs.dtype)


def accidental_hits(n_items: int, targets: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor]:
    """(target positions, negative positions) of every pair where a negative is the target
    itself, target positions ascending."""
    is_negative = torch.zeros(n_items, dtype=torch.bool, device=targets.device)
    is_negative[negatives] = True
    hit_targets = is_negative[targets].nonzero().squeeze(1)
    if not len(hit_targets):
        return hit_targets, hit_targets
    pairs, cols = (negatives[None] == targets[hit_targets][:, None]).nonzero(as_tuple=True)
    return hit_targets[pairs], cols


def sampled_softmax_loss(user_vecs: Tensor, items: Tensor, targets: Tensor, negatives: Tensor,
                         matmul_dtype: torch.dtype | None = None) -> Tensor:
    """Softmax over each target and the shared sampled negatives; a negative that is the row's own
    target (an accidental hit) is excluded from that row."""
    hit_rows, hit_cols = accidental_hits(items.shape[0], targets, negatives)
    # index_select: its backward is an index_add, cheaper on the CPU than indexing's sort-based one
    return candidate_softmax_loss(user_vecs, items.index_select(0, targets), items.index_select(0, negatives),
                                  hit_rows, hit_cols, matmul_dtype)


def row_sampled_softmax_loss(row_vecs: Tensor, items: Tensor, rows: Tensor, targets: Tensor, negatives: Tensor,
                             matmul_dtype: torch.dtype | None = None) -> Tensor:
    """sampled_softmax_loss for targets that share their row's user vector: target n is scored
    with row_vecs[rows[n]], so the [B, K] negative logits are computed once per row, not once
    per target (a user's window holds up to max_len targets). A negative that is any of the
    row's targets is excluded from the row: no positive of a user is pushed down as a negative
    of another of its positives.

    row_vecs [B, d], items [n, d], rows and targets [N] (every row has at least one target),
    negatives [K] (indices into items). Mean over the N targets.
    """
    mm = matmul_dtype or row_vecs.dtype
    candidates = items.index_select(0, negatives)
    logits = (row_vecs.to(mm) @ candidates.to(mm).T).to(torch.promote_types(row_vecs.dtype, torch.float32))
    hit_targets, hit_cols = accidental_hits(items.shape[0], targets, negatives)
    if len(hit_targets):
        # a large finite value, not -inf: a row whose every negative is a hit (a tiny catalogue)
        # then has a finite, negligible negative term instead of a NaN gradient
        logits = logits.index_put((rows[hit_targets], hit_cols), logits.new_tensor(torch.finfo(logits.dtype).min))
    negative_lse = torch.logsumexp(logits, 1)                                  # [B]
    positive = (row_vecs.index_select(0, rows) * items.index_select(0, targets)).sum(-1)  # [N]
    return (torch.logaddexp(positive, negative_lse[rows]) - positive).mean()
