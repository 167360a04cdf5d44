"""evaluate() and the metric functions against examples worked out by hand."""
import math
from types import SimpleNamespace

import pytest
import torch

from recommender.ml.metrics import coverage, evaluate, mrr, ndcg_at_k, recall_at_k

# Three users, five items.
# user 0: train [0, 1], val 2, test 3
# user 1: train [4], val 0, test 4  (the test item repeats a train item: it must not be masked)
# user 2: too short to hold anything out (val = test = -1): never evaluated
DATA = SimpleNamespace(
    n_users=3, n_items=5,
    train_users=torch.tensor([0, 1, 0, 2]), train_items=torch.tensor([0, 4, 1, 3]),
    val_items=torch.tensor([2, 0, -1]), test_items=torch.tensor([3, 4, -1]),
)
SCORES = torch.tensor([
    [5.0, 4.0, 3.0, 3.0, 1.0],
    [2.0, 9.0, 2.0, 0.0, 1.0],
    [0.0, 0.0, 0.0, 0.0, 0.0],
])


def fixed_scores(users, split):
    return SCORES[users]


def test_rank_functions_by_hand():
    ranks = torch.tensor([1, 2, 5])
    assert recall_at_k(ranks, 2).tolist() == [1.0, 1.0, 0.0]
    assert ndcg_at_k(ranks, 2).tolist() == pytest.approx([1.0, 1 / math.log2(3), 0.0])
    assert mrr(ranks).tolist() == pytest.approx([1.0, 0.5, 0.2])
    assert coverage(torch.tensor([[0, 1], [1, 2]]), 6) == pytest.approx(0.5)


def test_validation_masks_train_items_and_counts_ties_against_the_target():
    # user 0: items 0, 1 masked; target 2 (3.0) ties with item 3 -> rank 2
    # user 1: item 4 masked; target 0 (2.0) below item 1, tied with item 2 -> rank 3
    result = evaluate(fixed_scores, DATA, "val", ks=(1, 2, 3))
    assert result["users"] == 2
    assert result["recall@1"] == 0.0
    assert result["recall@2"] == pytest.approx(0.5)
    assert result["recall@3"] == pytest.approx(1.0)
    assert result["ndcg@2"] == pytest.approx((1 / math.log2(3)) / 2)
    assert result["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 2)
    assert result["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_test_split_masks_validation_item_but_never_the_target():
    # user 0: items 0, 1 (train) and 2 (val) masked; target 3 (3.0) beats item 4 -> rank 1
    # user 1: item 0 (val) masked, item 4 is the target: unmasked; 1 and 2 score >= 1.0 -> rank 3
    result = evaluate(fixed_scores, DATA, "test", ks=(1, 3), coverage_k=2)
    assert result["recall@1"] == pytest.approx(0.5)
    assert result["ndcg@3"] == pytest.approx((1 + 0.5) / 2)
    assert result["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    # top-2 lists after masking seen items: user 0 {3, 4}, user 1 {1, 2} -> 4 of 5 items
    assert result["coverage@2"] == pytest.approx(0.8)


def test_constant_score_earns_nothing():
    result = evaluate(lambda users, split: torch.zeros(len(users), 5), DATA, "val", ks=(1, 2))
    # every unmasked item ties with the target: user 0 ranks 3rd of 3, user 1 4th of 4
    assert result["recall@2"] == 0.0
    assert result["ndcg@2"] == 0.0
    assert result["mrr"] == pytest.approx((1 / 3 + 1 / 4) / 2)


def test_nan_scores_rank_last():
    nan = torch.full((3, 5), float("nan"))
    result = evaluate(lambda users, split: nan[users], DATA, "val", ks=(1,))
    assert result["mrr"] == pytest.approx((1 / 3 + 1 / 4) / 2)


def test_batches_and_user_subsets_give_the_same_ranks():
    seen_batches = []

    def recording(users, split):
        seen_batches.append(len(users))
        return fixed_scores(users, split)

    whole = evaluate(fixed_scores, DATA, "test")
    one_by_one = evaluate(recording, DATA, "test", batch_size=1)
    assert one_by_one == whole
    assert seen_batches == [1, 1]
    only_user_1 = evaluate(fixed_scores, DATA, "test", ks=(3,), users=torch.tensor([1, 2]))
    assert only_user_1["users"] == 1
    assert only_user_1["mrr"] == pytest.approx(1 / 3)


def test_wrong_score_shape_and_split_are_clear_errors():
    with pytest.raises(ValueError, match="expected"):
        evaluate(lambda users, split: torch.zeros(len(users), 4), DATA)
    with pytest.raises(ValueError, match="split"):
        evaluate(fixed_scores, DATA, "train")
