"""HybridRecommender: towers mixed by the score gate (standardized scores, one dot product)."""
import pytest
import torch

from recommender.ml.hybrid import parse_towers
from recommender.ml.synthetic import planted_dataset
from recommender.ml.train import TrainConfig, build_model


pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def dataset():
    return planted_dataset(n_chain_users=20, n_groups=2, group_size=5)


def make_hybrid(dataset, towers="graph,social,sequence"):
    torch.manual_seed(0)
    model = build_model(dataset, TrainConfig(dim=16, max_len=10, towers=towers)).eval()
    with torch.no_grad():  # an untrained gate is uniform: give it something to say
        model.gate.weight.normal_()
        model.gate.bias.normal_()
        model.log_temperature.fill_(0.7)
    return model


def histories(dataset, users):
    return [dataset.history(int(u), "val") for u in users]


def test_parse_towers():
    assert parse_towers("graph, social+sequence") == [("graph",), ("social", "sequence")]
    assert parse_towers("graph,social,sequence", {"graph": True, "social": False, "sequence": True}) == \
        [("graph",), ("sequence",)]
    with pytest.raises(ValueError, match="not a"):
        parse_towers("graph,,sequence")


def test_scores_are_the_gated_per_user_standardized_tower_scores(dataset):
    model = make_hybrid(dataset)
    users = torch.arange(8)
    with torch.no_grad():
        got = model.scores(users, histories(dataset, users))
        lengths = torch.tensor([len(h) for h in histories(dataset, users)])
        friends = torch.bincount(dataset.social_edge_index[0], minlength=dataset.n_users)[users]
        gate = model.gate_weights(lengths, friends)
        expected = 0
        for t, tower in enumerate(model.towers):
            scores = tower.scores(users, histories(dataset, users))
            sigma = scores.std(1, unbiased=False, keepdim=True).clamp(min=1e-6)  # friendless: a zero social vector
            expected = expected + gate[:, t:t + 1] * scores / sigma
        expected = expected * torch.exp(torch.tensor(0.7))
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_the_gate_is_a_distribution_that_reads_length_and_friends(dataset):
    model = make_hybrid(dataset)
    with torch.no_grad():
        gate = model.gate_weights(torch.tensor([1, 1, 9]), torch.tensor([0, 4, 0]))
    assert torch.all(gate >= 0) and torch.allclose(gate.sum(1), torch.ones(3))
    assert not torch.allclose(gate[0], gate[1]) and not torch.allclose(gate[0], gate[2])


def test_a_single_tower_scores_exactly_as_the_tower(dataset):
    model = make_hybrid(dataset, towers="graph+social+sequence")
    users = torch.arange(5)
    with torch.no_grad():
        assert torch.equal(model.scores(users, histories(dataset, users)),
                           model.towers[0].scores(users, histories(dataset, users)))


def test_session_path_equals_batch_path_and_step_equals_scratch(dataset):
    model = make_hybrid(dataset)
    history = dataset.history(0, "val")[:5]
    with torch.no_grad():
        batch = model.user_vectors(torch.tensor([0]), [history])["user"][0]
        scratch = model.session(0, model.start_state(history)).user
        stepped = model.session(0, model.step(model.start_state(history[:-1]), history[-1])).user
    assert torch.allclose(scratch, batch, atol=1e-5)
    assert torch.allclose(stepped, batch, atol=1e-5)


@pytest.mark.parametrize("towers", ["graph,social,sequence", "graph+social,sequence", "graph+social+sequence"])
def test_branch_contributions_add_up_to_the_centred_score(dataset, towers):
    model = make_hybrid(dataset, towers)
    with torch.no_grad():
        parts = model.session(3, model.start_state(dataset.history(3, "val")))
        scores = model.item_matrix() @ parts.user
        items = torch.tensor([0, 5, 11])
        contributions = model.branch_contributions(parts, items)
        assert contributions.shape == (3, 3)
        assert torch.allclose(contributions.sum(1), scores[items] - scores.mean(), atol=1e-4)
        for row, item in enumerate(items):  # one pass for many items == one item at a time
            assert torch.allclose(model.branch_contributions(parts, item[None])[0], contributions[row], atol=1e-6)
        weights = model.branch_gate(parts)
    assert torch.allclose(weights.sum(), torch.tensor(1.0)) and torch.all(weights > 0)


def test_one_branch_towers_own_their_part_of_the_score(dataset):
    model = make_hybrid(dataset)
    with torch.no_grad():
        parts = model.session(3, model.start_state(dataset.history(3, "val")))
        items = model.towers[0].propagate().items
        centred = items[5] - items.mean(0)
        graph_part = parts.scales[0] * (parts.towers[0][-1] @ centred)
        assert torch.allclose(model.branch_contributions(parts, torch.tensor([5]))[0, 0], graph_part, atol=1e-5)
