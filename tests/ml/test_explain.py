"""recommender.ml.explain: the social attention indexed by user matches the per-user scan; signal shares."""
import torch

from recommender.ml import explain as ex


def test_friends_by_user_matches_the_per_user_scan():
    generator = torch.Generator().manual_seed(3)
    edges = torch.randint(0, 30, (2, 400), generator=generator)
    edges = torch.cat([edges, torch.arange(30).repeat(2, 1)], 1)  # self loops, as GATConv adds them
    alpha = torch.randint(0, 5, (edges.shape[1],), generator=generator).float() / 4  # many ties
    index = ex.friends_by_user((edges, alpha))
    for user in range(30):
        assert index.get(user, []) == ex.friend_weights((edges, alpha), user), user
    assert all(friend != user for user, pairs in index.items() for friend, _ in pairs)


def test_no_social_attention_means_no_friends():
    assert ex.friends_by_user(None) == {}
    assert ex.friend_weights(None, 0) == []


def test_signal_shares_are_each_items_absolute_parts_normalized():
    contributions = torch.tensor([[1.0, -1.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    gate = torch.tensor([0.2, 0.3, 0.5])
    assert ex.signal_shares(contributions, gate) == [
        {"graph": 0.25, "social": 0.25, "sequence": 0.5},
        {"graph": 0.2, "social": 0.3, "sequence": 0.5},  # no part at all: the gate stands in
        {"graph": 0.0, "social": 1.0, "sequence": 0.0},
    ]
