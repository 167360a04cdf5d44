"""Baselines: each trains end to end on tiny data and beats popularity where its signal is planted."""
import math

import numpy as np
import pytest
import torch

from recommender.ml import baselines
from recommender.ml.baselines import (
    BPRMF, SASRec, EarlyStopping, FitOptions, ItemKNN, Popularity, SASRecModule, run_baselines,
)
from recommender.ml.data import build_from_arrays
from recommender.ml.metrics import evaluate
from recommender.ml.synthetic import planted_dataset
from recommender.ml.train import TrainConfig


@pytest.fixture(scope="module")
def planted():
    # chain users (c*): the next item follows the previous one; group users (g*): friends and
    # co-buyers share a pool of items. Popularity is nearly flat, so it predicts neither.
    return planted_dataset(n_chain_users=80, n_chain_items=20, n_groups=4, group_size=10, group_items=12, seed=1)


def users_of(dataset, prefix):
    return torch.tensor([i for i, u in enumerate(dataset.user_ids) if u.startswith(prefix)])


def ndcg_on(model, dataset, prefix):
    return evaluate(model.scores, dataset, "test", users=users_of(dataset, prefix))["ndcg@10"]


def fit(model, dataset, epochs=None, seed=0):
    return model.fit(dataset, FitOptions(epochs=epochs, patience=3, seed=seed))


def test_popularity_scores_are_train_counts(planted):
    model = fit(Popularity(), planted)
    counts = torch.bincount(planted.train_items, minlength=planted.n_items).float()
    scores = model.scores(torch.tensor([0, 5]), "test")
    assert torch.equal(scores[0], counts) and torch.equal(scores[1], counts)


def test_itemknn_similarity_is_cosine_by_hand():
    # train (first 1-2 items per user; the last two are val/test): u0 {0, 1}, u1 {0, 1}, u2 {0, 2}
    users = np.array(["u0"] * 4 + ["u1"] * 4 + ["u2"] * 4)
    items = np.array(["0", "1", "3", "3", "0", "1", "3", "3", "0", "2", "3", "3"])
    data = build_from_arrays(users, items, np.tile(np.arange(4.0), 3))
    model = fit(ItemKNN(), data)
    sim = model.similarity.toarray()
    i = data.item_index
    assert sim[i["0"], i["1"]] == pytest.approx(2 / math.sqrt(3 * 2))
    assert sim[i["0"], i["2"]] == pytest.approx(1 / math.sqrt(3))
    assert sim[i["1"], i["2"]] == 0.0 and sim[i["0"], i["0"]] == 0.0
    # u2's history {0, 2} scores item 1 by its similarity to items 0 and 2
    scores = model.scores(torch.tensor([data.user_index["u2"]]), "val")
    assert float(scores[0, i["1"]]) == pytest.approx(2 / math.sqrt(6))


def test_itemknn_keeps_only_the_top_neighbours(planted):
    model = ItemKNN(neighbours=3).fit(planted, FitOptions())
    assert (np.diff(model.similarity.indptr) <= 3).all()


def test_itemknn_beats_popularity_on_co_purchases(planted):
    pop, knn = fit(Popularity(), planted), fit(ItemKNN(), planted)
    assert ndcg_on(knn, planted, "g") > ndcg_on(pop, planted, "g") + 0.1


def test_bpr_beats_popularity_on_co_purchases_and_is_seeded(planted):
    pop = fit(Popularity(), planted)
    bpr = fit(BPRMF(lr=0.01), planted, epochs=40)
    assert ndcg_on(bpr, planted, "g") > ndcg_on(pop, planted, "g") + 0.1
    again = fit(BPRMF(lr=0.01), planted, epochs=40)
    assert torch.equal(bpr.module.items.weight, again.module.items.weight)


def test_sasrec_learns_the_item_order(planted):
    pop = fit(Popularity(), planted)
    sasrec = fit(SASRec(dim=32, dropout=0.1, lr=0.01), planted, epochs=25)
    assert ndcg_on(sasrec, planted, "c") > ndcg_on(pop, planted, "c") + 0.3


def test_sasrec_padding_does_not_change_the_last_state():
    torch.manual_seed(0)
    module = SASRecModule(n_items=10, dim=16, max_len=8, blocks=2, heads=2, dropout=0.0).eval()
    seq = torch.tensor([[3, 5, 7]])
    padded = torch.tensor([[0, 0, 0, 3, 5, 7]])
    with torch.no_grad():
        assert torch.allclose(module(seq)[:, -1], module(padded)[:, -1], atol=1e-5)
        # causal: an earlier position does not see later items
        changed = torch.tensor([[3, 5, 9]])
        assert torch.allclose(module(seq)[:, 1], module(changed)[:, 1], atol=1e-5)


def test_early_stopping_keeps_the_best_weights():
    layer = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        assert not stopper.update(layer, 0.5, 1)
        layer.weight.fill_(2.0)
        assert not stopper.update(layer, 0.4, 2)
        assert stopper.update(layer, 0.3, 3)  # two evaluations without progress
    assert stopper.best_epoch == 1 and float(stopper.state["weight"]) == 1.0


def test_ablations_are_the_hybrid_with_branches_off(planted, monkeypatch):
    seen = []

    class Result:
        history = [{}]
        validation = {"ndcg@10": 0.0}
        test = {"recall@10": 0.0, "ndcg@10": 0.0}
        worker_peak_rss_mb: list = []

    def fake_train(dataset, config, device, progress):
        seen.append(config)
        return Result()

    monkeypatch.setattr(baselines, "train", fake_train)
    base = TrainConfig(dim=16, lr=0.005)
    run_baselines(planted, ("lightgcn", "lstm"), epochs=3, seed=7, train_config=base)
    graph, sequence = seen
    assert (graph.use_graph, graph.use_social, graph.use_sequence) == (True, False, False)
    assert (sequence.use_graph, sequence.use_social, sequence.use_sequence) == (False, False, True)
    assert all(c.dim == 16 and c.lr == 0.005 and c.epochs == 3 and c.seed == 7 for c in seen)


def test_run_baselines_end_to_end(planted):
    progress = []
    results = run_baselines(planted, ("pop", "itemknn", "lstm"), epochs=2, progress=progress.append,
                            train_config=TrainConfig(dim=16, batch_size=64, sequence_dropouts="0.5"))
    assert set(results) == {"pop", "itemknn", "lstm"}
    for metrics in results.values():
        for key in ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr", "train_seconds", "peak_rss_mb"):
            assert metrics[key] >= 0
        assert metrics["peak_rss_mb"] > 10
    assert [p["epoch"] for p in progress if p["model"] == "lstm"] == [1, 2]


def test_unknown_model_is_refused(planted):
    with pytest.raises(ValueError, match="unknown model"):
        run_baselines(planted, ("gru4rec",))
