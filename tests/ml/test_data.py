"""recommender.ml.data: the CSV contract, validation, weights, split, adjacency, features."""
import numpy as np
import pytest
import torch

from recommender.ml.data import DataError, Interaction, build_dataset, load_csv


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


INTERACTIONS = """user_id,item_id,timestamp,event,rating,weight
u1,a,1,view,,
u1,b,2,purchase,,
u1,c,3,cart,,
u1,d,3,view,,
u2,a,2020-01-01T00:00:00Z,rating,5,
u2,b,2020-01-02T00:00:00,rating,1,
u2,c,2020-01-03T00:00:00+00:00,view,,10
u3,a,5,view,,
u3,b,4,view,,
"""


@pytest.fixture
def files(tmp_path):
    return {
        "interactions": write(tmp_path, "interactions.csv", INTERACTIONS),
        "social": write(tmp_path, "social.csv", "user_id,friend_id\nu1,u2\nu2,u1\nu1,ghost\nu3,u3\n"),
        "reviews": write(tmp_path, "reviews.csv",
                         "user_id,item_id,text\nu1,b,\"I love it! Wonderful, great.\"\nu1,a,\"Terrible. Awful, broken.\"\n"
                         "u9,a,nobody\n"),
        "items": write(tmp_path, "items.csv",
                       "item_id,title,category,price\na,Alpha,x|y,1\nb,Beta,y,5\nc,,z,100\nd,,,\ne,Epsilon,x,50\n"),
    }


def test_load_csv_builds_ids_split_and_sequences(files):
    ds = load_csv(**files)
    assert ds.n_users == 3 and ds.n_items == 5  # e has no interaction but is in items.csv
    assert ds.stats["items_without_interactions"] == 1
    assert ds.stats["interactions"] == 9
    u1, u2, u3 = (ds.user_index[u] for u in ("u1", "u2", "u3"))
    item = ds.item_index
    # u1: c and d share timestamp 3; file order keeps c before d, so d is the test item.
    assert ds.train_seqs[u1] == [item["a"], item["b"]]
    assert int(ds.val_items[u1]) == item["c"] and int(ds.test_items[u1]) == item["d"]
    # ISO 8601 timestamps (with and without zone) order u2's rows.
    assert ds.train_seqs[u2] == [item["a"]] and int(ds.test_items[u2]) == item["c"]
    # fewer than 3 interactions: train only, ordered by time (b at 4 before a at 5)
    assert ds.train_seqs[u3] == [item["b"], item["a"]]
    assert int(ds.val_items[u3]) == -1 and int(ds.test_items[u3]) == -1
    assert ds.history(u1, "test") == [item["a"], item["b"], item["c"]]
    assert ds.eval_users("test").tolist() == [u1, u2]
    assert ds.item_names == {"a": "Alpha", "b": "Beta", "e": "Epsilon"}


def test_edge_weights_follow_events_ratings_and_sentiment(files):
    plain = load_csv(files["interactions"])
    reviewed = load_csv(files["interactions"], reviews=files["reviews"])

    def weight(ds, user, item):
        mask = (ds.train_users == ds.user_index[user]) & (ds.train_items == ds.item_index[item])
        return float(ds.train_weights[mask][0])

    assert weight(plain, "u1", "b") > weight(plain, "u1", "a")  # purchase > view
    assert weight(plain, "u1", "b") == pytest.approx(3.0)
    assert weight(plain, "u2", "a") == pytest.approx(2.0 * 5 / 3)  # a rating event scaled by 5/3
    # the positive review strengthens u1-b, the negative one weakens u1-a
    assert weight(reviewed, "u1", "b") > weight(plain, "u1", "b")
    assert weight(reviewed, "u1", "a") < weight(plain, "u1", "a")
    assert reviewed.stats["reviews"] == 3 and reviewed.stats["reviews_unmatched"] == 1


def test_adjacency_is_symmetric_normalized_and_train_only(files):
    ds = load_csv(files["interactions"])
    dense = ds.adjacency.to_dense()
    n_users = ds.n_users
    assert torch.allclose(dense, dense.T)
    u1, c = ds.user_index["u1"], ds.item_index["c"]
    assert dense[u1, n_users + c] == 0  # c is u1's validation item: not a graph edge
    a = ds.item_index["a"]
    assert dense[u1, n_users + a] > 0
    assert float(dense[:n_users, :n_users].abs().sum()) == 0  # bipartite


def test_social_edges_count_unknown_users_and_self_loops(files):
    ds = load_csv(files["interactions"], social=files["social"])
    assert ds.social_edge_index.shape == (2, 2)
    assert ds.stats["social_unknown_users"] == 1
    assert ds.stats["social_self_loops"] == 1
    assert ds.stats["social_edges"] == 2


def test_item_features_multilabels_and_price_bands(files):
    ds = load_csv(files["interactions"], items=files["items"])
    assert {"category=x", "category=y", "category=z"} <= set(ds.feature_vocab)
    assert not any(label.startswith("title=") for label in ds.feature_vocab)
    bags = torch.nn.EmbeddingBag(ds.n_item_features, 1, mode="sum")
    bags.weight.data = torch.arange(ds.n_item_features, dtype=torch.float).unsqueeze(1) * 0 + 1
    counts = bags(ds.item_feature_index, ds.item_feature_offsets).squeeze(1)
    label_counts = dict(zip(ds.item_ids, counts.tolist()))
    assert label_counts["a"] == 3  # x, y and a price band
    assert label_counts["d"] == 0  # nothing known
    a_labels = ds.item_feature_index[ds.item_feature_offsets[ds.item_index["a"]]:][:3].tolist()
    c_labels = ds.item_feature_index[ds.item_feature_offsets[ds.item_index["c"]]:][:2].tolist()
    price = lambda labels: [ds.feature_vocab[k] for k in labels if ds.feature_vocab[k].startswith("price=")]  # noqa: E731
    assert price(a_labels) != price(c_labels)  # 1 and 100 fall in different bands


def test_build_dataset_matches_load_csv(files):
    from_csv = load_csv(files["interactions"], social=files["social"])
    records = [Interaction("u1", "a", 1, "view"), Interaction("u1", "b", 2, "purchase"),
               Interaction("u1", "c", 3, "cart"), Interaction("u1", "d", 3, "view"),
               Interaction("u2", "a", 1577836800, "rating", 5), Interaction("u2", "b", 1577923200, "rating", 1),
               Interaction("u2", "c", 1578009600, "view", weight=10),
               Interaction("u3", "a", 5, "view"), Interaction("u3", "b", 4, "view")]
    built = build_dataset(records, social=[("u1", "u2"), ("u2", "u1"), ("u1", "ghost"), ("u3", "u3")],
                          name="x")
    assert built.fingerprint == from_csv.fingerprint
    assert built.train_seqs == from_csv.train_seqs
    assert torch.equal(built.train_weights, from_csv.train_weights)
    assert torch.equal(built.social_edge_index, from_csv.social_edge_index)


@pytest.mark.parametrize("text, line, reason", [
    ("user_id,timestamp\nu1,1\n", 1, "missing column(s): item_id"),
    ("user_id,item_id,timestamp\nu1,a,1\nu1,b\n", 3, "expected 3 fields, found 2"),
    ("user_id,item_id,timestamp\nu1,a,1\nu1,b,yesterday\n", 3, "neither a number nor ISO 8601"),
    ("user_id,item_id,timestamp,event\nu1,a,1,view\nu1,b,2,like\n", 3, "event 'like' is not one of"),
    ("user_id,item_id,timestamp,rating\nu1,a,1,9\n", 2, "rating '9' is outside [1, 5]"),
    ("user_id,item_id,timestamp\nu1,,1\n", 2, "empty item_id"),
    ("user_id,item_id,timestamp\n", None, "header but no rows"),
    ("", None, "empty file"),
])
def test_bad_interactions_name_file_line_and_reason(tmp_path, text, line, reason):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(DataError) as caught:
        load_csv(path)
    err = caught.value
    assert err.file == str(path) and err.line == line and reason in err.reason
    assert str(err).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_bad_side_files_are_errors_too(files, tmp_path):
    bad_social = write(tmp_path, "s.csv", "user_id\nu1\n")
    with pytest.raises(DataError, match="missing column"):
        load_csv(files["interactions"], social=bad_social)
    bad_items = write(tmp_path, "i.csv", "item_id,price\na,cheap\n")
    with pytest.raises(DataError) as caught:
        load_csv(files["interactions"], items=bad_items)
    assert caught.value.line == 2 and "price 'cheap' is not a number" in caught.value.reason
    dup_items = write(tmp_path, "d.csv", "item_id,price\na,1\na,2\n")
    with pytest.raises(DataError, match="duplicate item_id"):
        load_csv(files["interactions"], items=dup_items)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot open"):
        load_csv(tmp_path / "nope.csv")


def test_build_dataset_rejects_bad_records():
    with pytest.raises(DataError, match="no interactions"):
        build_dataset([])
    with pytest.raises(DataError, match="event 'like'"):
        build_dataset([Interaction("u", "i", 1, "like")])
    with pytest.raises(DataError) as caught:
        build_dataset([Interaction("u", "i", 1), Interaction("u", "j", float("nan"))], name="snapshot")
    assert caught.value.line == 2 and "not finite" in caught.value.reason


def test_fingerprint_changes_with_the_id_maps(files, tmp_path):
    ds = load_csv(files["interactions"])
    other = write(tmp_path, "o.csv", INTERACTIONS + "u4,a,9,view,,\n")
    assert load_csv(other).fingerprint != ds.fingerprint
    assert load_csv(files["interactions"]).fingerprint == ds.fingerprint
    assert np.isfinite(ds.train_weights.numpy()).all()
