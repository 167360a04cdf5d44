"""recommender.ml.train: config, losses, early stopping, determinism, progress."""
import pytest
import torch

from recommender.ml.synthetic import planted_dataset
from recommender.ml.train import TrainConfig, resolve_device, sample_windows, train


pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def dataset():
    return planted_dataset(n_chain_users=30, n_groups=2, group_size=5)


def tiny(**kwargs) -> TrainConfig:
    """Small and fast; the sequence tower trained once (test_sequence_dropout_is_chosen_on_validation
    covers the choice between dropouts)."""
    return TrainConfig(**{**dict(dim=16, max_len=10, epochs=3, patience=3, batch_size=16, lr=5e-3,
                                 sequence_dropouts=""), **kwargs})


def test_config_round_trips_and_rejects_nonsense():
    config = tiny(loss="bpr")
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="hinge")
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"dim": 8, "colour": "red"})
    with pytest.raises(ValueError, match="at least one of"):
        TrainConfig(use_graph=False, use_social=False, use_sequence=False)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="'graph\\+colour' is not a"):
        TrainConfig(towers="graph+colour,sequence")
    with pytest.raises(ValueError, match="a branch appears in two towers"):
        TrainConfig(towers="graph,graph+sequence")
    for bad in ({"dropout": 1.0}, {"dropout": -0.1}, {"sequence_dropout": 1.0}):
        with pytest.raises(ValueError, match="dropout must be in"):
            TrainConfig(**bad)
    assert TrainConfig(sequence_dropout=-1).tower_kwargs()["sequence_dropout"] is None
    assert TrainConfig(sequence_dropout=0.3).tower_kwargs()["sequence_dropout"] == 0.3
    assert TrainConfig(use_social=False).tower_branches() == [("graph",), ("sequence",)]
    assert TrainConfig(towers="graph+social,sequence").tower_branches() == [("graph", "social"), ("sequence",)]


def test_windows_cover_every_prefix_and_bound_long_sequences():
    seqs = [[1, 2, 3], list(range(10, 30))]
    generator = torch.Generator().manual_seed(0)
    inputs, targets, lengths = sample_windows(seqs, [0, 1], max_len=5, start=100, pad=101, generator=generator)
    assert inputs[0].tolist() == [100, 1, 2, 101, 101] and targets[0].tolist() == [1, 2, 3, 101, 101]
    assert lengths.tolist() == [3, 5]
    window = targets[1].tolist()
    assert window == list(range(window[0], window[0] + 5))  # 5 consecutive targets of the long sequence
    assert inputs[1, 1:].tolist() == window[:-1] and int(inputs[1, 0]) == window[0] - 1


JOINT = "graph+social+sequence"  # one tower with every branch: a single early-stopped model


@pytest.mark.parametrize("loss", ["ce", "sampled", "bpr"])
def test_training_learns_and_reports_progress(dataset, loss):
    points = []
    result = train(dataset, tiny(loss=loss, negatives=16, epochs=4), device="cpu", progress=points.append)
    assert result.config.towers == "graph,social,sequence"
    assert {"tower", "epoch", "epochs", "loss", "val_ndcg@10"} <= set(points[0])
    assert all(p["epochs"] == 12 for p in points)  # 4 epochs for each of the three towers
    epochs = [p["epoch"] for p in points]
    assert epochs == sorted(set(epochs)) and epochs[-1] <= 12
    for tower in ("graph", "social", "sequence"):
        losses = [p["loss"] for p in points if p["tower"] == tower]
        assert losses and losses[-1] < losses[0], tower
    assert result.device == "cpu" and result.history == points
    assert {"recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr", "coverage@10"} <= set(result.test)


def test_a_single_tower_restores_its_best_epoch(dataset):
    points = []
    result = train(dataset, tiny(towers=JOINT, epochs=4), device="cpu", progress=points.append)
    assert [p["epoch"] for p in points] == list(range(1, len(points) + 1))
    # every validation user is scored per epoch here, so the restored model scores the best epoch's value
    assert result.validation["ndcg@10"] == pytest.approx(max(p["val_ndcg@10"] for p in points), abs=1e-6)


def test_the_hybrids_towers_are_the_ablations_and_the_gate_is_fitted(dataset):
    hybrid = train(dataset, tiny(), device="cpu").model
    graph_only = train(dataset, tiny(use_social=False, use_sequence=False), device="cpu").model
    sequence_only = train(dataset, tiny(use_graph=False, use_social=False), device="cpu").model
    assert hybrid.branches == [("graph",), ("social",), ("sequence",)]
    for tower, ablation in ((hybrid.towers[0], graph_only), (hybrid.towers[2], sequence_only)):
        assert ablation.single
        theirs = ablation.towers[0].state_dict()
        assert all(torch.equal(value, theirs[key]) for key, value in tower.state_dict().items())
    # fitted on validation: no longer the uniform mix it starts from
    assert float(hybrid.gate.bias.detach().abs().sum()) > 0 and float(hybrid.log_temperature.detach()) != 0.0


def test_sequence_dropout_is_chosen_on_validation(dataset):
    assert TrainConfig().sequence_dropout_choices() == [0.5, 0.3]  # the default chooses
    result = train(dataset, tiny(use_graph=False, use_social=False, sequence_dropouts="0.9,0.0"), device="cpu")
    labels = list(dict.fromkeys(p["tower"] for p in result.history))
    assert labels == ["sequence (dropout 0.9)", "sequence (dropout 0)"]
    assert [p["epochs"] for p in result.history][-1] == 2 * 3  # epochs count over both trainings
    best = {label: max(p["val_ndcg@10"] for p in result.history if p["tower"] == label) for label in labels}
    winner = max(labels, key=lambda label: best[label])  # max keeps the first of equal values, as train() does
    assert result.config.sequence_dropout == float(winner.split()[-1].rstrip(")"))
    alone = train(dataset, tiny(use_graph=False, use_social=False, sequence_dropout=result.config.sequence_dropout),
                  device="cpu").model
    theirs = alone.towers[0].state_dict()  # the kept tower is exactly that dropout's own training
    assert all(torch.equal(v, theirs[k]) for k, v in result.model.towers[0].state_dict().items())
    with pytest.raises(ValueError, match="sequence_dropouts must be"):
        TrainConfig(sequence_dropouts="0.3,lots")
    with pytest.raises(ValueError, match="each of sequence_dropouts"):
        TrainConfig(sequence_dropouts="0.3,1.5")


def test_a_social_tower_needs_a_social_graph():
    from recommender.ml.data import Interaction, build_dataset

    rows = [Interaction(f"u{u}", f"i{(u + t) % 6}", t) for u in range(8) for t in range(4)]
    result = train(build_dataset(rows), tiny(epochs=1), device="cpu")
    assert result.config.towers == "graph,sequence" and len(result.model.towers) == 2


def test_early_stopping_restores_the_best_epoch(dataset, monkeypatch):
    import recommender.ml.train as train_module

    # A validation curve that peaks at epoch 2, then falls: training must stop after `patience`
    # worse epochs and come back to epoch 2's weights.
    curve = iter([0.1, 0.5, 0.2, 0.1, 0.05, 0.01])
    snapshots = []
    real_evaluate = train_module.evaluate_model

    def fake_evaluate(model, ds, split, device, users=None):
        if users is not None:  # the per-epoch early-stopping evaluation
            snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
            return {"ndcg@10": next(curve), "recall@10": 0.0}
        return real_evaluate(model, ds, split, device, users)

    monkeypatch.setattr(train_module, "evaluate_model", fake_evaluate)
    result = train(dataset, tiny(epochs=10, patience=2, towers=JOINT), device="cpu")
    assert len(result.history) == 4  # peak at 2, two worse epochs, stop
    restored = result.model.towers[0].state_dict()
    assert all(torch.equal(restored[k], snapshots[1][k]) for k in restored)


def test_same_seed_same_result(dataset):
    a = train(dataset, tiny(seed=1), device="cpu")
    b = train(dataset, tiny(seed=1), device="cpu")
    assert [p["loss"] for p in a.history] == [p["loss"] for p in b.history]
    assert a.test == b.test
    c = train(dataset, tiny(seed=2), device="cpu")
    assert [p["loss"] for p in a.history] != [p["loss"] for p in c.history]


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_auto_loss_and_batch_size_scale_with_the_data():
    config = TrainConfig(full_softmax_items=100)
    assert config.resolved_loss(100) == "ce" and config.resolved_loss(101) == "sampled"
    assert TrainConfig(loss="bpr").resolved_loss(10) == "bpr"
    from recommender.ml.train import length_batches, propagation_cost

    seqs = [[1, 2, 3][: 1 + u % 3] for u in range(1000)]
    generator = torch.Generator().manual_seed(0)
    batches = length_batches(list(range(1000)), seqs, TrainConfig(batch_size=16), generator, max_batches=10)
    assert len(batches) <= 10 + 1 and sorted(u for b in batches for u in b) == list(range(1000))
    uncapped = length_batches(list(range(1000)), seqs, TrainConfig(batch_size=16), generator)
    assert max(len(b) for b in uncapped) == 16
    dataset = planted_dataset(n_chain_users=10, n_groups=1, group_size=4)
    both = propagation_cost(dataset, TrainConfig(), ("graph", "social", "sequence"))
    graph_only = propagation_cost(dataset, TrainConfig(), ("graph",))
    social = (dataset.social_edge_index.shape[1] + dataset.n_users * 64) * 2 * 2  # edges + user projections, 2 layers x 2 heads
    assert graph_only == dataset.adjacency._nnz() * 2 and both == graph_only + social
    assert propagation_cost(dataset, TrainConfig(), ("sequence",)) == 0


def test_an_epoch_has_at_most_the_lower_of_the_two_batch_caps():
    from recommender.ml.train import epoch_batch_cap, propagation_cost

    dataset = planted_dataset(n_chain_users=10, n_groups=1, group_size=4)
    graph = propagation_cost(dataset, TrainConfig(), ("graph",))
    # the propagation budget caps only a tower with a graph; max_epoch_batches caps every tower
    assert epoch_batch_cap(dataset, TrainConfig(propagation_budget=graph * 3), ("graph",)) == 3
    assert epoch_batch_cap(dataset, TrainConfig(propagation_budget=graph * 3, max_epoch_batches=2), ("graph",)) == 2
    assert epoch_batch_cap(dataset, TrainConfig(propagation_budget=graph * 3), ("sequence",)) == 256
    assert epoch_batch_cap(dataset, TrainConfig(max_epoch_batches=0), ("sequence",)) == 0  # no limit
    assert epoch_batch_cap(dataset, TrainConfig(propagation_budget=0, max_epoch_batches=0), ("graph",)) == 0
    assert epoch_batch_cap(dataset, TrainConfig(propagation_budget=1), ("graph",)) == 1
    for name, zero in (("max_epoch_batches", "no limit"), ("propagation_budget", "no limit"), ("parallel_towers", "auto")):
        with pytest.raises(ValueError, match=f"{name} must be 0 \\({zero}\\) or more"):
            TrainConfig(**{name: -1})


def test_max_epoch_batches_grows_the_batch_of_a_tower_training(dataset, monkeypatch):
    from recommender.ml import train as training

    sizes = []
    original = training.sample_windows

    def counting(seqs, users, *args, **kwargs):
        sizes.append(len(users))
        return original(seqs, users, *args, **kwargs)

    monkeypatch.setattr(training, "sample_windows", counting)
    users = sum(1 for seq in dataset.train_seqs if seq)
    training.train_tower(dataset, tiny(epochs=1, batch_size=4, max_epoch_batches=0), ("sequence",),
                         torch.device("cpu"), lambda point: None)
    assert max(sizes) == 4 and sum(sizes) == users and len(sizes) > 5
    sizes.clear()
    training.train_tower(dataset, tiny(epochs=1, batch_size=4, max_epoch_batches=5), ("sequence",),
                         torch.device("cpu"), lambda point: None)
    assert len(sizes) <= 5 and sum(sizes) == users and max(sizes) == -(-users // 5)


def test_command_line_trains_saves_and_reports_bad_input(tmp_path, capsys):
    from recommender.ml.serve import Recommender
    from recommender.ml.train import main

    rows = ["user_id,item_id,timestamp"] + [f"u{u},i{(u + t) % 7},{t}" for u in range(12) for t in range(5)]
    interactions = tmp_path / "interactions.csv"
    interactions.write_text("\n".join(rows) + "\n")
    out = tmp_path / "model.pt"
    assert main(["--interactions", str(interactions), "--epochs", "2", "--dim", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "validation recall@10=" in printed and "test recall@10=" in printed and f"saved {out}" in printed
    assert Recommender.load(out).has_user("u3")
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,timestamp\nu1,i1,noon\n")
    assert main(["--interactions", str(bad)]) == 2
    assert f"{bad}:2: timestamp 'noon'" in capsys.readouterr().err


def test_softmax_precision_is_validated_and_auto_follows_the_hardware(monkeypatch):
    from recommender.ml import train as train_module

    with pytest.raises(ValueError, match="softmax_precision must be one of"):
        TrainConfig(softmax_precision="float8")
    cpu = torch.device("cpu")
    assert TrainConfig(softmax_precision="float32").softmax_matmul_dtype(cpu) == torch.float32
    assert TrainConfig(softmax_precision="bfloat16").softmax_matmul_dtype(cpu) == torch.bfloat16
    monkeypatch.setattr(train_module, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert TrainConfig().softmax_matmul_dtype(cpu) == torch.bfloat16
    monkeypatch.setattr(train_module, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert TrainConfig().softmax_matmul_dtype(cpu) == torch.float32  # emulated bfloat16 would be slower


def featured_dataset():
    """Chains of items with content labels (one item has none), friends among the users."""
    from recommender.ml.data import Interaction, build_dataset

    interactions = [Interaction(f"u{u}", f"i{(u + t) % 12}", t) for u in range(8) for t in range(6)]
    items = {f"i{k}": ({"brand": f"b{k % 3}", "tags": f"t{k % 2}|t{k % 5}"} if k != 4 else {}) for k in range(12)}
    social = [(f"u{u}", f"u{(u + 1) % 8}") for u in range(8)]
    return build_dataset(interactions, social, items=items)


def test_batch_items_are_positions_in_the_sorted_items_a_batch_touches():
    from recommender.ml.train import batch_items

    inputs = torch.tensor([[10, 7, 3], [10, 11, 11]])  # 10 items: start token 10, padding 11
    targets = torch.tensor([[7, 3, 5], [2, 11, 11]])
    ids, inputs_c, targets_c, negatives_c = batch_items(10, inputs, targets, torch.tensor([5, 9, 9]))
    assert ids.tolist() == [2, 3, 5, 7, 9]
    assert inputs_c.tolist() == [[5, 3, 1], [5, 6, 6]] and targets_c.tolist() == [[3, 1, 2], [0, 6, 6]]
    assert negatives_c.tolist() == [2, 4, 4]


@pytest.mark.parametrize("branches", [("sequence",), ("social",), ("social", "sequence")])
def test_a_tower_without_the_graph_computes_only_its_batchs_items_to_the_same_loss_and_gradients(branches):
    """What train_tower does with sampled negatives: the same loss and gradients as the whole item table."""
    from recommender.ml.train import batch_items, build_tower, loss_fn, sample_negatives, sample_windows

    ds = featured_dataset()
    config = tiny(loss="sampled", negatives=5, dropout=0.0, sequence_dropout=0.0)
    assert ds.n_item_features
    torch.manual_seed(0)
    tower = build_tower(ds, config, branches).train()
    generator = torch.Generator().manual_seed(0)
    users = [0, 3, 5]
    inputs, targets, lengths = sample_windows(ds.train_seqs, users, config.max_len, ds.n_items, ds.n_items + 1, generator)
    valid = targets != ds.n_items + 1
    negatives = sample_negatives(config, ds.n_items, int(valid.sum()), generator)

    def loss_and_grads(prop, inputs, targets, negatives):
        tower.zero_grad()
        vectors = tower.training_user_vectors(torch.tensor(users), inputs, lengths, prop, targets)
        loss = loss_fn(config, vectors[valid], prop.items, targets[valid], negatives, ds.n_items)
        loss.backward()
        return loss, {n: p.grad.clone() for n, p in tower.named_parameters() if p.grad is not None}

    whole, whole_grads = loss_and_grads(tower.propagate(), inputs, targets, negatives)
    ids, inputs_c, targets_c, negatives_c = batch_items(ds.n_items, inputs, targets, negatives)
    assert len(ids) < ds.n_items  # the check means something: not every item is in the batch
    prop = tower.propagate(item_ids=ids)
    assert torch.allclose(prop.items, tower.propagate().items[ids])
    part, part_grads = loss_and_grads(prop, inputs_c, targets_c, negatives_c)
    assert torch.allclose(part, whole, atol=1e-6)
    assert whole_grads.keys() == part_grads.keys() and "item_embedding.weight" in whole_grads
    for name, grad in whole_grads.items():
        assert torch.allclose(part_grads[name], grad, atol=1e-6), name


def test_only_a_training_tower_without_the_graph_propagates_part_of_the_items():
    from recommender.ml.train import build_tower

    ds = featured_dataset()
    ids = torch.tensor([1, 4])
    with pytest.raises(ValueError, match="graph branch"):
        build_tower(ds, tiny(), ("graph",)).train().propagate(item_ids=ids)
    with pytest.raises(ValueError, match="training"):
        build_tower(ds, tiny(), ("sequence",)).eval().propagate(item_ids=ids)
    tower = build_tower(ds, tiny(), ("sequence",)).eval()
    assert torch.equal(tower.content_vectors(ids), tower.content_vectors()[ids])
    assert not tower.content_vectors(torch.tensor([ds.item_index["i4"]])).any()  # no labels: zero content


def test_only_a_tower_whose_user_vector_ignores_the_position_trains_one_vector_per_user():
    from recommender.ml.train import build_tower

    ds = featured_dataset()
    independent = {branches: build_tower(ds, tiny(), branches).position_independent
                   for branches in [("social",), ("graph",), ("sequence",), ("graph", "social")]}
    # the graph tower's vector is the mean of the items before each position ("prefix")
    assert independent == {("social",): True, ("graph",): False, ("sequence",): False, ("graph", "social"): False}
    assert build_tower(ds, tiny(graph_user="embedding", gate_length=False), ("graph", "social")).position_independent
    # with the history length in its gate, a two-branch tower's vector changes along the window
    assert not build_tower(ds, tiny(graph_user="embedding"), ("graph", "social")).position_independent
    with pytest.raises(ValueError, match="depends on the position"):
        tower = build_tower(ds, tiny(), ("sequence",))
        tower.training_row_vectors(torch.tensor([0]), tower.propagate())


@pytest.mark.parametrize("loss", ["ce", "sampled", "bpr"])
def test_row_loss_equals_the_per_target_loss_of_the_social_tower(loss):
    """Without dropout, the social tower's vector per user gives train_tower the loss and gradients
    of its vector per position (sampled: with no negative among a row's other targets)."""
    from recommender.ml.train import build_tower, loss_fn, row_loss_fn, sample_windows

    ds = featured_dataset()
    config = tiny(loss=loss, negatives=4, dropout=0.0, softmax_precision="float32")  # exact products: bfloat16 (auto on some CPUs) rounds the two orders apart
    torch.manual_seed(0)
    tower = build_tower(ds, config, ("social",)).train()
    users = torch.tensor([0, 3, 5])
    generator = torch.Generator().manual_seed(0)
    inputs, targets, lengths = sample_windows(ds.train_seqs, users.tolist(), config.max_len, ds.n_items,
                                              ds.n_items + 1, generator)
    valid = targets != ds.n_items + 1
    rows, positions = valid.nonzero(as_tuple=True)
    taken = set(targets[valid].tolist())
    free = torch.tensor([i for i in range(ds.n_items) if i not in taken])
    negatives = free[:4] if loss == "sampled" else torch.randint(ds.n_items, (int(valid.sum()),), generator=generator)

    def loss_and_grads(per_row: bool):
        tower.zero_grad()
        prop = tower.propagate()
        if per_row:
            value = row_loss_fn(config, tower.training_row_vectors(users, prop), prop.items, rows,
                                targets[rows, positions], negatives, ds.n_items)
        else:
            vectors = tower.training_user_vectors(users, inputs, lengths, prop, targets)
            value = loss_fn(config, vectors[valid], prop.items, targets[valid], negatives, ds.n_items)
        value.backward()
        return value, {n: p.grad.clone() for n, p in tower.named_parameters() if p.grad is not None}

    per_target, per_target_grads = loss_and_grads(False)
    per_row, per_row_grads = loss_and_grads(True)
    assert torch.allclose(per_row, per_target, atol=1e-6)
    assert per_row_grads.keys() == per_target_grads.keys() and "user_embedding.weight" in per_row_grads
    for name, grad in per_target_grads.items():
        assert torch.allclose(per_row_grads[name], grad, atol=1e-5), name


@pytest.mark.parametrize("setting, loss, per_user", [("on", "ce", True), ("auto", "sampled", True),
                                                   ("auto", "ce", False), ("off", "sampled", False)])
def test_train_tower_trains_the_social_tower_per_user_as_configured(dataset, monkeypatch, setting, loss, per_user):
    from recommender.ml.model import Tower
    from recommender.ml.train import train_tower

    config = tiny(epochs=5, patience=5, loss=loss, negatives=8, per_user_training=setting)
    assert config.trains_per_user(dataset.n_items) == per_user

    def not_this_path(*args, **kwargs):
        raise AssertionError("the social tower trained on the other path")

    monkeypatch.setattr(Tower, "training_user_vectors" if per_user else "training_row_vectors", not_this_path)
    tower, history = train_tower(dataset, config, ("social",), torch.device("cpu"), lambda point: None)
    # it learns: a later epoch's loss below the first's (not always the last: 8 sampled negatives are noisy)
    assert len(history) == 5 and min(p["loss"] for p in history[1:]) < history[0]["loss"]
    with pytest.raises(ValueError, match="per_user_training must be one of"):
        TrainConfig(per_user_training="sometimes")


@pytest.mark.parametrize("setting, loss, branches, weight_decay, lazy", [
    ("auto", "sampled", ("sequence",), 0.0, True), ("auto", "bpr", ("social",), 0.0, True),
    ("auto", "ce", ("sequence",), 0.0, False),        # a full softmax touches every row
    ("auto", "sampled", ("graph",), 0.0, False),      # propagation touches every row
    ("auto", "sampled", ("sequence",), 1e-4, False),  # SparseAdam has no weight decay
    ("on", "ce", ("sequence",), 0.0, False), ("off", "sampled", ("sequence",), 0.0, False)])
def test_lazy_item_updates_apply_where_a_batch_computes_only_its_item_rows(setting, loss, branches, weight_decay, lazy):
    config = tiny(loss=loss, lazy_item_updates=setting, weight_decay=weight_decay)
    assert config.lazy_item_rows(500, branches) == lazy


def test_lazy_item_updates_reject_nonsense():
    with pytest.raises(ValueError, match="lazy_item_updates must be one of"):
        TrainConfig(lazy_item_updates="sometimes")
    with pytest.raises(ValueError, match="needs weight_decay 0"):
        TrainConfig(lazy_item_updates="on", weight_decay=1e-4)


@pytest.mark.parametrize("lazy", [True, False])
def test_lazy_item_updates_move_only_the_batch_rows(dataset, lazy):
    from recommender.ml.train import build_tower, tower_optimizer

    torch.manual_seed(0)
    config = tiny()
    tower = build_tower(dataset, config, ("sequence",)).train()
    optimizer = tower_optimizer(tower, config, lazy)
    table = tower.item_embedding.weight
    touched = torch.tensor([1, 4, 7])
    # two steps: the second touches row 1 only, where a dense Adam also moves rows 4 and 7 by their momentum
    for step, rows in enumerate((touched, touched[:1])):
        before = table.detach().clone()
        items = tower.propagate(item_ids=rows).items
        loss = (items ** 2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        assert table.grad.is_sparse == lazy
        optimizer.step()
        moved = (table.detach() != before).any(1).nonzero().squeeze(1)
        if lazy:
            assert moved.tolist() == rows.tolist()
        elif step == 1:
            assert set(touched.tolist()) <= set(moved.tolist())  # momentum moves rows the batch left out


def test_train_tower_with_lazy_item_updates_learns(dataset, monkeypatch):
    from recommender.ml.train import train_tower

    sparse_steps = []
    sparse_step = torch.optim.SparseAdam.step
    monkeypatch.setattr(torch.optim.SparseAdam, "step", lambda self: sparse_steps.append(1) or sparse_step(self))
    config = tiny(epochs=8, patience=8, loss="sampled", negatives=8)
    assert config.lazy_item_rows(dataset.n_items, ("sequence",))
    tower, history = train_tower(dataset, config, ("sequence",), torch.device("cpu"), lambda point: None)
    losses, ndcg = [p["loss"] for p in history], [p["val_ndcg@10"] for p in history]
    assert sparse_steps and not tower.sparse_item_rows  # lazy while training, dense gradients after
    # (sampled negatives on 60 items: the loss is noisy epoch to epoch)
    assert min(losses[-3:]) < losses[0] - 0.1 and max(ndcg[-3:]) > ndcg[0] + 0.02


def test_parallel_towers_train_the_same_towers_in_worker_processes(dataset):
    from dataclasses import replace

    config = tiny(sequence_dropouts="0.5,0.3")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # two workers of one thread each against one thread here: like with like
    try:
        points = []
        parallel = train(dataset, replace(config, parallel_towers=2), device="cpu", progress=points.append)
        torch.set_num_threads(1)
        alone = train(dataset, config, device="cpu")
    finally:
        torch.set_num_threads(threads)
    for mine, theirs in zip(parallel.model.towers, alone.model.towers):
        expected = theirs.state_dict()
        assert all(torch.equal(value, expected[key]) for key, value in mine.state_dict().items())
    assert parallel.test == alone.test and parallel.config.sequence_dropout == alone.config.sequence_dropout
    # progress from four processes counts the epochs done, one at a time, up to the total
    assert [p["epoch"] for p in points] == list(range(1, len(points) + 1)) and points[-1]["epochs"] == 12
    assert sorted(p["tower"] for p in points) == sorted(p["tower"] for p in alone.history)
    # two worker processes (one may take every job while the other starts: tiny trainings are quick)
    assert 1 <= len(parallel.worker_peak_rss_mb) <= 2 and min(parallel.worker_peak_rss_mb) > 0
    assert alone.worker_peak_rss_mb == []


def test_parallel_towers_auto_uses_the_cpus_threads_where_it_may_and_the_data_is_big_enough(dataset, monkeypatch):
    from recommender.ml import train as training

    cpu, auto = torch.device("cpu"), TrainConfig()
    assert auto.parallel_towers == 0
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(training, "PARALLEL_MIN_INTERACTIONS", len(dataset.train_users))
    assert training.tower_processes(dataset, auto, 4, cpu) == 2
    assert training.tower_processes(dataset, auto, 1, cpu) == 1  # one training: nothing to run beside it
    assert training.tower_processes(dataset, auto, 4, torch.device("cuda")) == 1  # CUDA contexts cost more
    assert training.tower_processes(dataset, TrainConfig(parallel_towers=3), 4, cpu) == 3  # as configured
    assert training.tower_processes(dataset, TrainConfig(parallel_towers=1), 4, cpu) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert training.tower_processes(dataset, auto, 4, cpu) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert training.tower_processes(dataset, auto, 4, cpu) == 4
    monkeypatch.setattr(training, "PARALLEL_MIN_INTERACTIONS", len(dataset.train_users) + 1)  # small data
    assert training.tower_processes(dataset, auto, 4, cpu) == 1
    monkeypatch.setattr(training, "PARALLEL_MIN_INTERACTIONS", 0)
    monkeypatch.setattr(training.multiprocessing.current_process(), "daemon", True)  # a prefork pool's child
    assert training.tower_processes(dataset, auto, 4, cpu) == 1


def test_parallel_towers_auto_trains_in_worker_processes_above_the_size(dataset, monkeypatch):
    from recommender.ml import train as training

    monkeypatch.setattr(training, "PARALLEL_MIN_INTERACTIONS", 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = train(dataset, tiny(epochs=1), device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert 1 <= len(result.worker_peak_rss_mb) <= 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where CUDA fails")
def test_a_tower_training_that_fails_in_its_worker_process_fails_train(dataset):
    with pytest.raises(RuntimeError, match=r"tower training '(graph|social|sequence)' failed in its worker process"):
        train(dataset, tiny(parallel_towers=2, epochs=1), device="cuda")
