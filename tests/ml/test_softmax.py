"""The chunked sampled softmax equals the dense computation it replaces, gradients included."""
import pytest
import torch
import torch.nn.functional as F

from recommender.ml import softmax


def dense_sampled_softmax(user_vecs, items, targets, negatives):
    positive = (user_vecs * items[targets]).sum(-1, keepdim=True)
    negative = (user_vecs @ items[negatives].T).masked_fill(negatives[None] == targets[:, None], float("-inf"))
    logits = torch.cat([positive, negative], 1)
    return F.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long))


@pytest.mark.parametrize("keep_logits_bytes", [0, 1 << 20], ids=["recomputed", "kept"])
def test_matches_dense_loss_and_gradients_across_chunks(monkeypatch, keep_logits_bytes):
    monkeypatch.setattr(softmax, "CHUNK_ROWS", 7)  # several chunks, the last one partial
    monkeypatch.setattr(softmax, "KEEP_LOGITS_BYTES", keep_logits_bytes)  # the backward's logits
    generator = torch.Generator().manual_seed(0)
    users = torch.randn(50, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    items = torch.randn(30, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    targets = torch.randint(30, (50,), generator=generator)
    negatives = torch.cat([targets[:5], torch.randint(30, (10,), generator=generator)])  # accidental hits
    assert (negatives[None] == targets[:, None]).any(1).sum() >= 5

    expected = dense_sampled_softmax(users, items, targets, negatives)
    expected_grads = torch.autograd.grad(expected, (users, items))
    loss = softmax.sampled_softmax_loss(users, items, targets, negatives)
    grads = torch.autograd.grad(loss, (users, items))

    assert torch.allclose(loss, expected)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want)


def test_a_target_among_the_negatives_is_not_its_own_negative():
    users = torch.tensor([[1.0, 0.0]])
    items = torch.tensor([[5.0, 0.0], [0.0, 0.0]])
    # negatives = [target, other]: only "other" (score 0) competes with the target (score 5)
    loss = softmax.sampled_softmax_loss(users, items, torch.tensor([0]), torch.tensor([0, 1]))
    assert torch.isclose(loss, torch.log1p(torch.exp(torch.tensor(-5.0))))


@pytest.mark.parametrize("keep_logits_bytes", [0, 1 << 20], ids=["recomputed", "kept"])
def test_a_row_whose_every_negative_is_its_target_has_zero_loss_and_finite_gradients(monkeypatch, keep_logits_bytes):
    monkeypatch.setattr(softmax, "KEEP_LOGITS_BYTES", keep_logits_bytes)
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    items = torch.tensor([[5.0, 0.0], [0.0, 3.0]], requires_grad=True)
    # row 0: its only negative is its target (nothing competes); row 1: item 0 (score 0) competes with 3
    loss = softmax.sampled_softmax_loss(users, items, torch.tensor([0, 1]), torch.tensor([0]))
    grads = torch.autograd.grad(loss, (users, items))
    assert torch.isclose(loss, torch.log1p(torch.exp(torch.tensor(-3.0))) / 2)
    assert all(torch.isfinite(g).all() for g in grads) and torch.equal(grads[0][0], torch.zeros(2))


def test_bfloat16_products_keep_the_loss_and_gradients_close(monkeypatch):
    monkeypatch.setattr(softmax, "CHUNK_ROWS", 64)
    generator = torch.Generator().manual_seed(1)
    users = torch.randn(300, 16, generator=generator, requires_grad=True)
    items = torch.randn(200, 16, generator=generator, requires_grad=True)
    targets = torch.randint(200, (300,), generator=generator)
    negatives = torch.randint(200, (64,), generator=generator)
    exact = softmax.sampled_softmax_loss(users, items, targets, negatives)
    exact_grads = torch.autograd.grad(exact, (users, items))
    low = softmax.sampled_softmax_loss(users, items, targets, negatives, matmul_dtype=torch.bfloat16)
    low_grads = torch.autograd.grad(low, (users, items))
    assert low.dtype == torch.float32 and all(g.dtype == torch.float32 for g in low_grads)
    assert abs(low.item() - exact.item()) < 1e-2 * exact.item()
    for got, want in zip(low_grads, exact_grads):
        assert F.cosine_similarity(got.flatten(), want.flatten(), dim=0) > 0.999
        assert not torch.equal(got, want)  # the products really ran in bfloat16


def test_kept_logits_give_the_same_gradients_bit_for_bit(monkeypatch):
    """Keeping the forward's logits only saves the backward recomputing them: the same numbers."""
    monkeypatch.setattr(softmax, "CHUNK_ROWS", 16)
    generator = torch.Generator().manual_seed(1)
    users = torch.randn(40, 8, generator=generator, requires_grad=True)
    items = torch.randn(30, 8, generator=generator, requires_grad=True)
    targets, negatives = torch.randint(30, (40,), generator=generator), torch.randint(30, (12,), generator=generator)
    chunk_logits, calls = softmax._chunk_logits, []
    monkeypatch.setattr(softmax, "_chunk_logits", lambda *a: calls.append(1) or chunk_logits(*a))
    results, products = [], []
    for budget in (0, 1 << 20):
        monkeypatch.setattr(softmax, "KEEP_LOGITS_BYTES", budget)
        calls.clear()
        loss = softmax.sampled_softmax_loss(users, items, targets, negatives)
        results.append((loss, *torch.autograd.grad(loss, (users, items))))
        products.append(len(calls))
    assert products == [6, 3]  # 3 chunks: forward and backward each, or the forward only
    for recomputed, kept in zip(*results):
        assert torch.equal(recomputed, kept)


def test_row_softmax_equals_the_per_target_softmax_when_no_row_shares_a_hit():
    """Targets that share their row's vector: the same loss and gradients as the per-target
    computation whenever a negative is at most the target's own (the accidental hit it excludes)."""
    generator = torch.Generator().manual_seed(2)
    rows_vecs = torch.randn(4, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    items = torch.randn(40, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    rows = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    targets = torch.tensor([1, 2, 3, 4, 5, 6, 7])
    negatives = torch.tensor([20, 21, 3, 22, 23, 3])  # 3: row 1's only target, twice
    expected = dense_sampled_softmax(rows_vecs[rows], items, targets, negatives)
    expected_grads = torch.autograd.grad(expected, (rows_vecs, items))
    loss = softmax.row_sampled_softmax_loss(rows_vecs, items, rows, targets, negatives)
    grads = torch.autograd.grad(loss, (rows_vecs, items))
    assert torch.allclose(loss, expected)
    for got, want in zip(grads, expected_grads):
        assert torch.allclose(got, want)


def test_row_softmax_excludes_every_target_of_the_row_from_its_negatives():
    users = torch.tensor([[1.0, 0.0]])
    items = torch.tensor([[5.0, 0.0], [4.0, 0.0], [0.0, 0.0]])
    rows, targets = torch.tensor([0, 0]), torch.tensor([0, 1])
    # negatives = [the other target, an item scored 0]: only the 0 competes with either target
    loss = softmax.row_sampled_softmax_loss(users, items, rows, targets, torch.tensor([1, 2]))
    expected = (torch.log1p(torch.exp(torch.tensor(-5.0))) + torch.log1p(torch.exp(torch.tensor(-4.0)))) / 2
    assert torch.isclose(loss, expected)


def test_row_softmax_stays_finite_when_every_negative_is_a_target_of_the_row():
    users = torch.randn(1, 4, requires_grad=True)
    items = torch.randn(3, 4)
    loss = softmax.row_sampled_softmax_loss(users, items, torch.tensor([0, 0]), torch.tensor([0, 1]),
                                            torch.tensor([1, 0, 1]))
    (grad,) = torch.autograd.grad(loss, users)
    assert loss.item() == 0.0 and torch.isfinite(grad).all()
