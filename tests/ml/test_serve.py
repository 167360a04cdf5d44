"""recommender.ml.serve.Recommender: checkpoints, recommendations, sessions, explanations."""
import io

import pytest
import torch

from recommender.ml import explain as ex
from recommender.ml.data import DataError
from recommender.ml.serve import Recommender, checkpoint_fingerprint
from recommender.ml.synthetic import planted_dataset
from recommender.ml.train import TrainConfig, train


pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def dataset():
    return planted_dataset(n_chain_users=30, n_groups=3, group_size=5)


@pytest.fixture(scope="module")
def recommender(dataset):
    config = TrainConfig(dim=16, max_len=10, epochs=4, patience=4, batch_size=16, lr=5e-3)
    return Recommender.from_training(train(dataset, config, device="cpu"), dataset)


def saved(recommender) -> io.BytesIO:
    buffer = io.BytesIO()
    recommender.save(buffer)
    buffer.seek(0)
    return buffer


def test_save_then_load_gives_identical_scores(recommender, dataset, tmp_path):
    path = tmp_path / "model.pt"
    recommender.save(path)
    loaded = Recommender.load(path, expect_fingerprint=dataset.fingerprint)
    users = ["c0", "c5", "g1_2"]
    assert loaded.recommend_many(users, 10) == recommender.recommend_many(users, 10)
    item = recommender.recommend("g1_2", k=1)[0][0]
    assert loaded.explain("g1_2", item) == recommender.explain("g1_2", item)
    assert loaded.version_info == recommender.version_info


def test_corrupt_and_foreign_checkpoints_are_refused(recommender, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataError, match="not a readable checkpoint"):
        Recommender.load(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(DataError, match="not a GraphCart hybrid checkpoint"):
        Recommender.load(foreign)
    with pytest.raises(DataError, match="trained on another dataset"):
        Recommender.load(saved(recommender), expect_fingerprint="0123456789abcdef")


@pytest.mark.parametrize("old_format, lacked", [
    ("graphcart-hybrid/1", ("fused_norm", "gate_length", "towers", "gate_epochs")),
    ("graphcart-hybrid/2", ("towers", "gate_epochs")),
])
def test_checkpoints_of_previous_formats_still_load(dataset, tmp_path, old_format, lacked):
    """Formats 1 and 2 hold one jointly trained tower at the top of the state_dict and a config
    without the fields added since (format 1 also predates fused_norm and gate_length): loading
    must rebuild that model, not today's default."""
    config = TrainConfig(dim=16, max_len=10, epochs=1, batch_size=16, towers="graph+social+sequence",
                         fused_norm=old_format != "graphcart-hybrid/1", gate_length=old_format != "graphcart-hybrid/1")
    old = Recommender.from_training(train(dataset, config, device="cpu"), dataset)
    blob = torch.load(saved(old), weights_only=True)
    blob["format"] = old_format
    blob["state_dict"] = {k.removeprefix("towers.0."): v for k, v in blob["state_dict"].items()
                          if k.startswith("towers.0.")}
    for field in lacked:
        del blob["config"][field]
    blob["fingerprint"] = checkpoint_fingerprint(blob["user_ids"], blob["item_ids"], blob["config"])
    path = tmp_path / "old.pt"
    torch.save(blob, path)
    loaded = Recommender.load(path)
    assert loaded.recommend_many(["c0", "g1_2"], 10) == old.recommend_many(["c0", "g1_2"], 10)

    blob["format"] = "graphcart-hybrid/99"
    torch.save(blob, path)
    with pytest.raises(DataError, match="format 'graphcart-hybrid/99' is not one this code reads.*retrain"):
        Recommender.load(path)


def test_tampered_checkpoints_are_refused(recommender):
    blob = torch.load(saved(recommender), weights_only=True)
    blob["config"]["dim"] = 32  # config no longer matches the fingerprint
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    buffer.seek(0)
    with pytest.raises(DataError, match="fingerprint does not match"):
        Recommender.load(buffer)
    blob = torch.load(saved(recommender), weights_only=True)
    blob["state_dict"]["gate.weight"] = torch.zeros(2, 2)
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    buffer.seek(0)
    with pytest.raises(DataError, match="does not match its config"):
        Recommender.load(buffer)


def test_recommend_masks_seen_items_and_respects_exclude(recommender):
    seen = {recommender.item_ids[i] for i in recommender.histories[recommender.user_index["c3"]]}
    recs = recommender.recommend("c3", k=10)
    assert len(recs) == 10 and not {item for item, _ in recs} & seen
    scores = [score for _, score in recs]
    assert scores == sorted(scores, reverse=True)
    first = recs[0][0]
    assert first not in {item for item, _ in recommender.recommend("c3", k=10, exclude=[first])}


def test_recommend_many_matches_recommend(recommender):
    many = recommender.recommend_many(["c1", "g0_1", "stranger"], k=5)
    for user in ("c1", "g0_1", "stranger"):
        assert [i for i, _ in many[user]] == [i for i, _ in recommender.recommend(user, k=5)]
        assert [s for _, s in many[user]] == pytest.approx([s for _, s in recommender.recommend(user, k=5)], abs=1e-5)


def test_recommend_many_lists_only_unseen_items_when_k_exceeds_them(recommender):
    n_items = len(recommender.item_ids)
    many = recommender.recommend_many(["c1", "g0_1"], k=n_items)
    for user in ("c1", "g0_1"):
        seen = {recommender.item_ids[i] for i in recommender.seen[recommender.user_index[user]]}
        listed = [i for i, _ in many[user]]
        assert seen and len(listed) == n_items - len(seen) and not seen & set(listed)
        assert all(score != float("-inf") for _, score in many[user])
        assert listed == [i for i, _ in recommender.recommend(user, k=n_items)]


def test_unknown_ids_never_raise(recommender):
    assert not recommender.has_user("stranger") and recommender.has_user("c1")
    assert len(recommender.recommend("stranger", k=5)) == 5
    state = recommender.session("stranger", ["no-such-item"])
    assert recommender.step(state, "no-such-item") is state
    assert recommender.similar_items("no-such-item", 3) == []
    assert recommender.user_scores_for_item("no-such-item", 3) == []
    assert recommender.cold_start(["nobody"], 3) == []


def test_session_step_rerank_and_score(recommender, dataset):
    state = recommender.session("c2")
    before = recommender.score_session(state, 5)
    clicked = before[0][0]
    after_state = recommender.step(state, clicked)
    after = recommender.score_session(after_state, 5)
    assert clicked not in {i for i, _ in after}  # what was just seen is not recommended again
    assert after != before
    candidates = [i for i, _ in before] + ["no-such-item"]
    reranked = recommender.rerank(after_state, candidates)
    assert sorted(i for i, _ in reranked) == sorted(candidates[:-1])
    assert [s for _, s in reranked] == sorted((s for _, s in reranked), reverse=True)
    # stepping equals opening the session with the click already in it
    direct = recommender.session("c2", [clicked])
    direct_recs = recommender.score_session(direct, 5)
    assert [i for i, _ in direct_recs] == [i for i, _ in after]
    assert [s for _, s in direct_recs] == pytest.approx([s for _, s in after], abs=1e-5)


def test_explanations_follow_the_contract(recommender):
    user = "g1_2"
    item = recommender.recommend(user, k=1)[0][0]
    names = lambda kind, key: f"<{kind} {key}>"  # noqa: E731
    explanation = recommender.explain(user, item, names=names)
    assert set(explanation) == {"signals", "friends", "recent_items", "text"}
    signals = explanation["signals"]
    assert set(signals) == {"graph", "social", "sequence"}
    assert sum(signals.values()) == pytest.approx(1.0, abs=1e-3) and min(signals.values()) >= 0
    friends = explanation["friends"]
    assert friends and {f["user"] for f in friends} <= {f"g1_{m}" for m in range(5)} - {user}
    assert [f["weight"] for f in friends] == sorted((f["weight"] for f in friends), reverse=True)
    owners = {u for u in recommender.user_ids if recommender.item_index[item] in recommender.seen[recommender.user_index[u]]}
    assert all(f["interacted_with_item"] == (f["user"] in owners) for f in friends)
    history = {recommender.item_ids[i] for i in recommender.histories[recommender.user_index[user]]}
    assert {r["item"] for r in explanation["recent_items"]} <= history
    assert explanation["text"].startswith("Because") or explanation["text"].startswith("Popular")
    assert "<" in explanation["text"] or explanation["text"] == "Because customers with similar taste chose it"
    with pytest.raises(KeyError):
        recommender.explain(user, "no-such-item")


def test_explaining_many_items_equals_one_at_a_time(recommender):
    state = recommender.step(recommender.session("g1_2"), "c3")
    items = [i for i, _ in recommender.score_session(state, 4)]
    many = recommender.explain_session_many(state, items)
    assert many == [recommender.explain_session(state, item) for item in items]
    assert len({m["signals"]["graph"] for m in many}) > 1  # each item's own shares, not the first one's
    with pytest.raises(KeyError, match="no-such-item"):
        recommender.explain_session_many(state, items + ["no-such-item"])


def test_a_friend_beyond_the_top_five_who_chose_the_item_is_still_named(recommender):
    item = recommender.item_index["gi2_0"]
    owners = [u for u, seen in enumerate(recommender.seen) if item in seen]
    others = [u for u, seen in enumerate(recommender.seen) if item not in seen]
    friends = [(u, 0.9 - 0.1 * k) for k, u in enumerate(others[:6])] + [(owners[0], 0.05), (owners[1], 0.01)]
    rows = recommender._friends_for_item(friends, item)
    assert [r[0] for r in rows] == [recommender.user_ids[u] for u in others[:5]] + [recommender.user_ids[owners[0]]]
    assert [r[2] for r in rows] == [False] * 5 + [True]
    explanation = ex.build_explanation({"graph": 0.0, "social": 1.0, "sequence": 0.0}, rows, [], lambda k, v: v)
    assert explanation["text"] == f"Because your friend {recommender.user_ids[owners[0]]} chose it too"
    assert len(explanation["friends"]) == 5
    top_owner = [(owners[0], 0.9)] + friends
    assert recommender._friends_for_item(top_owner, item)[0][2] and len(recommender._friends_for_item(top_owner, item)) == 5


def test_cached_start_states_are_not_changed_by_stepping(recommender, dataset):
    first = recommender.score_session(recommender.session("c4"), 5)
    stepped = recommender.step(recommender.session("c4"), first[0][0])
    recommender.score_session(stepped, 5)
    again = recommender.session("c4")
    assert recommender.score_session(again, 5) == first
    assert again.sequence.items == [int(i) for i in recommender.histories[recommender.user_index["c4"]]][-10:]
    with torch.no_grad():  # the cached state is the one a pass over the history gives
        direct = recommender.model.start_state(recommender.histories[recommender.user_index["c4"]])
    for cached, computed in zip(again.sequence.towers, direct.towers):
        assert cached.items == computed.items
        assert (cached.h is None) == (computed.h is None)
        if cached.h is not None:
            assert torch.equal(cached.h, computed.h) and torch.equal(cached.outputs, computed.outputs)


def test_cold_start_similar_items_and_audience(recommender):
    recs = recommender.cold_start(["g2_0", "g2_1", "g2_2"], k=5)
    assert len(recs) == 5
    item = "gi2_0"
    similar = recommender.similar_items(item, 4)
    assert len(similar) == 4 and item not in {i for i, _ in similar}
    audience = recommender.user_scores_for_item(item, 5)
    owners = {u for u in recommender.user_ids if recommender.item_index[item] in recommender.seen[recommender.user_index[u]]}
    assert audience and not {u for u, _ in audience} & owners
