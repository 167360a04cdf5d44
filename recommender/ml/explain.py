"""Explanations in DESIGN.md's format, computed from the model's own gate and attention weights.

    {"signals": {"graph": g, "social": s, "sequence": q},       shares of this item's score
     "friends": [{"user", "weight", "interacted_with_item"}],  social GAT attention (last layer, mean of heads)
     "recent_items": [{"item", "weight"}],                     sequence attention of the latest position
     "text": "Because you viewed X and your friend Y chose it too"}

A branch's share is the size of its additive part of this item's score (gate_b times the branch
vector's product with the item, `HybridRecommender.score_contributions`) normalized over the
branches: how much of the score that signal produced for this customer.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from .model import BRANCHES

TOP = 5
# A signal is worth a clause in the sentence when it holds at least this share of the score.
MENTION_SHARE = 0.15


def signal_shares(contributions: Tensor, gate: Tensor) -> list[dict[str, float]]:
    """contributions [k, 3]: each branch's part of each item's score -> per item, each branch's
    share of it; gate [3] stands in for an item whose parts are all zero."""
    contributions = contributions.abs()
    totals = contributions.sum(1, keepdim=True)
    shares = torch.where(totals > 0, contributions / totals.clamp(min=torch.finfo(totals.dtype).tiny), gate)
    return [{name: round(value, 4) for name, value in zip(BRANCHES, row)} for row in shares.tolist()]


def friend_weights(attention: tuple[Tensor, Tensor] | None, user: int) -> list[tuple[int, float]]:
    """(friend index, attention weight) of the user's in-edges, strongest first; self loop left out.

    Scans every edge: for many lookups on one model, build `friends_by_user` once instead.
    """
    if attention is None or user < 0:
        return []
    edges, alpha = attention
    incoming = (edges[1] == user) & (edges[0] != user)
    friends, weights = edges[0][incoming].tolist(), alpha[incoming].tolist()
    return sorted(zip(friends, weights), key=lambda fw: -fw[1])


def friends_by_user(attention: tuple[Tensor, Tensor] | None) -> dict[int, list[tuple[int, float]]]:
    """user -> friend_weights(attention, user) for every user with friends, from one pass over the edges."""
    if attention is None:
        return {}
    edges, alpha = attention
    keep = edges[0] != edges[1]
    friends, users, weights = edges[0][keep], edges[1][keep], alpha[keep]
    # order by user, strongest weight first within a user (stable, so ties keep edge order as above)
    by_weight = torch.argsort(weights, descending=True, stable=True)
    order = by_weight[torch.argsort(users[by_weight], stable=True)]
    out: dict[int, list[tuple[int, float]]] = {}
    for user, friend, weight in zip(users[order].tolist(), friends[order].tolist(), weights[order].tolist()):
        out.setdefault(user, []).append((friend, weight))
    return out


def recent_weights(items: Sequence[int], attention: Tensor | None) -> list[tuple[int, float]]:
    """(item index, attention weight) for the history items; attention[0] is the start token."""
    if attention is None or not items:
        return []
    weights = attention[1: 1 + len(items)].tolist()
    return sorted(zip(items, weights), key=lambda iw: -iw[1])


def build_explanation(shares: dict[str, float], friends: list[tuple[str, float, bool]],
                      recent: list[tuple[str, float]], name: Callable[[str, str], str]) -> dict:
    """friends: (user id, weight, interacted with the item); recent: (item id, weight); ids are external."""
    friends_out = [{"user": f, "weight": round(w, 4), "interacted_with_item": bool(hit)} for f, w, hit in friends[:TOP]]
    recent_out = [{"item": i, "weight": round(w, 4)} for i, w in recent[:TOP]]
    clauses = []
    for branch in sorted(shares, key=lambda b: -shares[b]):
        if shares[branch] < MENTION_SHARE:
            continue
        if branch == "sequence" and recent:
            clauses.append(f"you viewed {name('item', recent[0][0])}")
        elif branch == "social" and friends:
            chose = [f for f in friends if f[2]]
            clauses.append(f"your friend {name('user', chose[0][0])} chose it too" if chose
                           else f"friends like {name('user', friends[0][0])} shape your taste")
        elif branch == "graph":
            clauses.append("customers with similar taste chose it")
    text = "Because " + " and ".join(clauses[:2]) if clauses else "Popular with customers like you"
    return {"signals": shares, "friends": friends_out, "recent_items": recent_out, "text": text}
