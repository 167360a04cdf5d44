"""Tower (the joint model, and each of the hybrid's towers): shapes, gradients into every branch, distributions, step(), cold items."""
import pytest
import torch

from recommender.ml.data import Interaction, build_dataset
from recommender.ml.model import GraphInputs, Tower
from recommender.ml.synthetic import planted_dataset


pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def dataset():
    return planted_dataset(n_chain_users=20, n_groups=2, group_size=5)


def make_model(dataset, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = Tower(dataset.n_users, dataset.n_items, dataset.n_item_features, dim=16, max_len=10,
                              **kwargs)
    return model.attach(GraphInputs.from_dataset(dataset))


def test_scores_cover_the_catalogue(dataset):
    model = make_model(dataset).eval()
    users = torch.arange(4)
    scores = model.scores(users, [dataset.history(int(u), "val") for u in users])
    assert scores.shape == (4, dataset.n_items)
    values, top = model.top_k(scores, 5, seen=[dataset.train_seqs[int(u)] for u in users])
    assert top.shape == (4, 5)
    for row, u in zip(top.tolist(), users.tolist()):
        assert not set(row) & set(dataset.train_seqs[u])


@pytest.mark.parametrize("graph_user", ["prefix", "embedding"])
def test_gradients_reach_all_three_branches(dataset, graph_user):
    model = make_model(dataset, graph_user=graph_user).train()
    users = torch.arange(dataset.n_users)
    histories = [dataset.history(int(u), "val") for u in users]
    inputs, lengths = model.pad_histories(histories)
    prop = model.propagate()
    vectors = model.training_user_vectors(users, inputs, lengths, prop)
    loss = torch.nn.functional.cross_entropy(vectors[:, -1] @ prop.items.T, dataset.val_items.clamp(min=0))
    loss.backward()
    for name, param in [("graph (user/item embeddings)", model.item_embedding.weight),
                        ("social (GAT)", model.gat[0].lin.weight),
                        ("sequence (LSTM)", model.lstm.weight_ih_l0),
                        ("gate", model.gate.weight)]:
        assert param.grad is not None and float(param.grad.abs().sum()) > 0, name
    assert float(model.user_embedding.weight.grad.abs().sum()) > 0  # through propagation into the GAT


def test_attention_and_gate_weights_are_distributions(dataset):
    model = make_model(dataset).eval()
    users = torch.arange(dataset.n_users)
    out = model.user_vectors(users, [dataset.history(int(u), "val") for u in users], explain=True)
    gate = out["gate"]
    assert torch.all(gate >= 0) and torch.allclose(gate.sum(1), torch.ones(len(users)))
    attention = out["sequence_attention"]
    assert torch.all(attention >= 0) and torch.allclose(attention.sum(1), torch.ones(len(users)))
    edges, alpha = out["prop"].social_attention
    assert torch.all(alpha >= 0)
    per_user = torch.zeros(dataset.n_users).index_add_(0, edges[1], alpha)
    has_friends = torch.bincount(dataset.social_edge_index[0], minlength=dataset.n_users) > 0
    assert torch.allclose(per_user[has_friends], torch.ones(int(has_friends.sum())), atol=1e-5)


def test_switched_off_branches_get_zero_gate_weight(dataset):
    model = make_model(dataset, use_social=False, use_sequence=False).eval()
    out = model.user_vectors(torch.arange(3), [dataset.history(u, "val") for u in range(3)])
    assert torch.allclose(out["gate"], torch.tensor([[1.0, 0.0, 0.0]] * 3))
    with pytest.raises(ValueError, match="at least one branch"):
        make_model(dataset, use_graph=False, use_social=False, use_sequence=False)


def test_same_seed_same_model(dataset):
    a, b = make_model(dataset, seed=3).eval(), make_model(dataset, seed=3).eval()
    users = torch.arange(5)
    histories = [dataset.history(u, "val") for u in range(5)]
    assert torch.equal(a.scores(users, histories), b.scores(users, histories))
    c = make_model(dataset, seed=4).eval()
    assert not torch.equal(a.scores(users, histories), c.scores(users, histories))


@pytest.mark.parametrize("graph_user", ["prefix", "embedding"])
def test_last_position_vectors_equal_the_per_position_ones(dataset, graph_user):
    model = make_model(dataset, graph_user=graph_user).eval()
    users = torch.arange(dataset.n_users)
    histories = [dataset.history(int(u), "val")[: int(u) % 12] for u in users]  # lengths 0..11, some cut by max_len
    with torch.no_grad():
        prop = model.propagate()
        inputs, lengths = model.pad_histories(histories)
        every = model.branch_vectors(prop, users, inputs, lengths)
        last = model.last_branch_vectors(prop, users, inputs, lengths)
    rows = torch.arange(len(users))
    for per_position, at_last in zip(every, last):
        assert torch.allclose(per_position[rows, lengths - 1], at_last, atol=1e-5)


def test_sequence_dropout_is_the_sequence_branchs_own(dataset):
    model = make_model(dataset, dropout=0.0, sequence_dropout=0.9).train()
    users = torch.arange(6)
    inputs, lengths = model.pad_histories([dataset.history(int(u), "val") for u in users])
    prop = model.propagate()
    runs = [model.branch_vectors(prop, users, inputs, lengths) for _ in range(2)]
    assert torch.equal(runs[0][0], runs[1][0])          # graph: no dropout
    assert not torch.allclose(runs[0][2], runs[1][2])   # sequence: its own dropout
    assert make_model(dataset, dropout=0.3).sequence_dropout.p == 0.3  # None: the shared rate


def test_step_changes_scores_and_equals_running_from_scratch(dataset):
    model = make_model(dataset).eval()
    history = dataset.history(0, "val")[:4]
    with torch.no_grad():
        state = model.start_state(history)
        before = model.session_branches(0, state)
        stepped = model.step(state, 7)
        after = model.session_branches(0, stepped)
        scratch = model.session_branches(0, model.start_state(history + [7]))
        batch = model.user_vectors(torch.tensor([0]), [history + [7]])
    fused_after = model.fuse(*after[:3], len(stepped.items))[0]
    fused_before = model.fuse(*before[:3], len(state.items))[0]
    items = model.propagate().items
    assert not torch.allclose(items @ fused_after, items @ fused_before)
    for got, want in zip(after, scratch):
        assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(fused_after, batch["user"][0], atol=1e-5)  # session path == batch path


def test_items_without_interactions_are_scored_from_content():
    ds = build_dataset([Interaction("u1", "a", 1), Interaction("u1", "b", 2), Interaction("u2", "a", 1)],
                       items={"a": {"brand": "x"}, "b": {"brand": "y"}, "new": {"brand": "x"}})
    model = make_model(ds).eval()
    new = ds.item_index["new"]
    assert ds.stats["items_without_interactions"] == 1
    content = model.content_vectors()
    assert torch.allclose(content[new], content[ds.item_index["a"]])  # same labels, same content vector
    with torch.no_grad():
        assert float(model.propagate().items[new].abs().sum()) > 0


@pytest.mark.parametrize("fused_norm", [False, True])
def test_score_contributions_add_up_to_the_score(dataset, fused_norm):
    model = make_model(dataset, fused_norm=fused_norm, gate_length=True).eval()
    with torch.no_grad():
        model.fused_norm is None or model.fused_norm.weight.uniform_(0.5, 1.5)  # not the identity
        state = model.start_state(dataset.history(0, "val"))
        graph, social, sequence, _ = model.session_branches(0, state)
        user, gate = model.fuse(graph, social, sequence, len(state.items))
        items = model.propagate().items[[3, 7]]
        contributions = model.score_contributions(graph, social, sequence, gate, items)
        expected = items @ user
        if fused_norm:  # LN(x) = w * (x - mean) / std + b: the branches share 1/std, b is no branch's
            parts = model._parts(graph, social, sequence)
            mixed = sum(gate[b] * parts[b] for b in range(3))
            std = torch.sqrt(mixed.var(unbiased=False) + model.fused_norm.eps)
            expected = (expected - items @ model.fused_norm.bias) * std
    assert contributions.shape == (2, 3)
    assert torch.allclose(contributions.sum(1), expected, atol=1e-5)


def test_the_gate_reads_the_history_length(dataset):
    model = make_model(dataset, gate_length=True).eval()
    with torch.no_grad():
        graph, social, sequence, _ = model.session_branches(0, model.start_state(dataset.history(0, "val")))
        short = model.fuse(graph, social, sequence, 1)[1]
        long = model.fuse(graph, social, sequence, 10)[1]
    assert not torch.allclose(short, long)
