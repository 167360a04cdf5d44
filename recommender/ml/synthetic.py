"""Synthetic datasets with known structure: planted signals for tests, scale data for benchmarks."""
from __future__ import annotations

import numpy as np

from .data import Dataset, build_from_arrays


def planted_dataset(n_chain_users: int = 120, n_chain_items: int = 30, n_groups: int = 6, group_size: int = 10,
                    group_items: int = 16, seq_len: int = 8, noise: float = 0.05, seed: int = 0) -> Dataset:
    """Two kinds of customers, each with one signal that predicts their next item.

    - "chain" users (ids c*): each next item is the successor of the previous one in a fixed
      random cycle over the chain items (with `noise` random jumps): only order predicts it.
    - "group" users (ids g*): members of a friend group (everyone follows everyone in the group)
      buy, in random order, from their group's own items: friends' (and co-buyers') purchases
      predict it, order does not.
    Popularity is nearly flat within each half, so it predicts neither.
    """
    rng = np.random.default_rng(seed)
    users, items, stamps = [], [], []
    successor = rng.permutation(n_chain_items)
    cycle = np.empty(n_chain_items, dtype=np.int64)
    cycle[successor] = np.roll(successor, -1)  # cycle[i] = the item after i in the permutation's cycle
    for u in range(n_chain_users):
        item = int(rng.integers(n_chain_items))
        for t in range(seq_len):
            users.append(f"c{u}")
            items.append(f"ci{item}")
            stamps.append(t)
            item = int(rng.integers(n_chain_items)) if rng.random() < noise else int(cycle[item])
    social_src, social_dst = [], []
    for g in range(n_groups):
        members = [f"g{g}_{m}" for m in range(group_size)]
        for member in members:
            picks = rng.choice(group_items, size=min(seq_len, group_items), replace=False)
            for t, pick in enumerate(picks):
                users.append(member)
                items.append(f"gi{g}_{pick}")
                stamps.append(t)
            for friend in members:
                if friend != member:
                    social_src.append(member)
                    social_dst.append(friend)
    return build_from_arrays(np.array(users), np.array(items), np.array(stamps, dtype=float),
                             social=(np.array(social_src), np.array(social_dst)), name="planted")


def scale_dataset(n_users: int, n_items: int, n_interactions: int, n_social: int, seed: int = 0) -> Dataset:
    """Random data of a given size (Zipf-like item popularity) for speed and memory benchmarks."""
    rng = np.random.default_rng(seed)
    users = rng.integers(n_users, size=n_interactions)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    items = rng.choice(n_items, size=n_interactions, p=popularity / popularity.sum())
    stamps = rng.integers(1_600_000_000, 1_700_000_000, size=n_interactions).astype(float)
    src, dst = rng.integers(n_users, size=n_social), rng.integers(n_users, size=n_social)
    return build_from_arrays(users, items, stamps, social=(src, dst), name="synthetic")
