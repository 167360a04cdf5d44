"""Planted signals: each branch finds the signal it is built for, and the hybrid finds both.

`planted_dataset` has "chain" customers whose next item follows from the previous one, and
"group" customers whose friends buy from the same small set of items (order random).
Popularity predicts neither.
"""
import pytest
import torch

from recommender.ml import metrics
from recommender.ml.synthetic import planted_dataset
from recommender.ml.train import TrainConfig, evaluate_model, train

ABLATIONS = {
    "hybrid": {},
    "sequence only (lstm)": dict(use_graph=False, use_social=False),
    "graph only (lightgcn)": dict(use_social=False, use_sequence=False),
    "social only": dict(use_graph=False, use_sequence=False),
}


@pytest.fixture(scope="module")
def planted():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    dataset = planted_dataset()
    groups = {kind: torch.tensor([u for u, name in enumerate(dataset.user_ids) if name.startswith(kind[0])])
              for kind in ("chain", "group")}
    counts = torch.bincount(dataset.train_items, minlength=dataset.n_items).float()
    popularity = {kind: metrics.evaluate(lambda users, split: counts.expand(len(users), -1), dataset, "test",
                                         users=users)["ndcg@10"] for kind, users in groups.items()}
    popularity["all"] = metrics.evaluate(lambda users, split: counts.expand(len(users), -1), dataset, "test")["ndcg@10"]
    results = {}
    for name, switches in ABLATIONS.items():
        config = TrainConfig(epochs=30, patience=30, batch_size=64, lr=5e-3, **switches)
        model = train(dataset, config, device="cpu").model
        results[name] = {kind: evaluate_model(model, dataset, "test", torch.device("cpu"), users=users)["ndcg@10"]
                         for kind, users in groups.items()}
        results[name]["all"] = evaluate_model(model, dataset, "test", torch.device("cpu"))["ndcg@10"]
    torch.set_num_threads(before)
    return popularity, results


def test_hybrid_clearly_beats_popularity_and_every_ablation(planted):
    popularity, results = planted
    assert results["hybrid"]["all"] > popularity["all"] + 0.3
    for name in ABLATIONS:
        if name != "hybrid":
            assert results["hybrid"]["all"] > results[name]["all"], name


def test_sequence_branch_alone_finds_the_order_signal(planted):
    popularity, results = planted
    assert results["sequence only (lstm)"]["chain"] > popularity["chain"] + 0.3


def test_graph_branch_alone_finds_co_purchases(planted):
    popularity, results = planted
    assert results["graph only (lightgcn)"]["group"] > popularity["group"] + 0.2


def test_social_branch_alone_finds_what_friends_buy(planted):
    popularity, results = planted
    assert results["social only"]["group"] > popularity["group"] + 0.2
