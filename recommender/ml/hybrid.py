"""HybridRecommender: one tower per signal, trained apart, mixed by a learned score gate.

    s_t(u, i)   = <u_t, i_t>                        tower t's own score (model.Tower)
    sigma_t(u)  = sqrt(u_t^T Cov(items_t) u_t)      std of s_t(u, .) over the catalogue
    g(u)        = softmax(W [log-length, log-friends] + b)          the gate, over the towers
    score(u, i) = tau * sum_t g_t(u) * s_t(u, i) / sigma_t(u)
                = <concat_t(tau g_t / sigma_t * u_t), concat_t(i_t)>   one user vector, one dot product

Each tower's scores are standardized per user before mixing (subtracting their mean would shift
all of a user's scores alike, so it is left out), so the gate weighs signals of one scale.
train.py trains each tower alone with its own early stopping, then fits the gate (and tau) on
the validation split with the towers frozen.

Why apart: trained jointly, the branches share one optimizer and one early-stopping point
although they converge at very different speeds (on amazon-beauty the graph branch alone peaks at
epoch 10, the sequence branch at 39), and each weakens the other: inside the joint model the graph
branch scored lastfm validation NDCG@10 0.1214 against 0.1375 trained alone, and the joint model
(test 0.1267) fell behind the graph branch alone (0.1302). On amazon-beauty the separately trained
graph and sequence towers, score-mixed, reached test 0.0478 against the joint model's 0.0449
(bench/late_fusion_probe.py; docs/benchmarks.md).

With a single tower (the `lightgcn` and `lstm` ablations, or towers="graph+social+sequence", the
joint model) the score is that tower's own score, unscaled, and there is no gate to fit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .model import BRANCHES, GraphInputs, Propagated, SequenceState, Tower

FRIENDS_SCALE = 50  # log1p(friends) / log1p(FRIENDS_SCALE): the gate's friend feature, ~[0, 1]


def parse_towers(text: str, active: dict[str, bool] | None = None) -> list[tuple[str, ...]]:
    """"graph,social,sequence" -> [("graph",), ("social",), ("sequence",)]; "+" joins branches into
    one tower. Branches switched off in `active` are dropped, and towers left empty with them."""
    towers = []
    for group in text.split(","):
        names = tuple(n.strip() for n in group.split("+") if n.strip())
        unknown = [n for n in names if n not in BRANCHES]
        if unknown or not names:
            raise ValueError(f"towers: {group!r} is not a '+'-joined list of {', '.join(BRANCHES)}")
        names = tuple(n for n in names if active is None or active.get(n, False))
        if names:
            towers.append(names)
    seen = [n for t in towers for n in t]
    if len(seen) != len(set(seen)):
        raise ValueError(f"towers: a branch appears in two towers ({text!r})")
    return towers


def format_towers(towers: list[tuple[str, ...]]) -> str:
    return ",".join("+".join(t) for t in towers)


@dataclass
class HybridState:
    """One customer's session: each tower's SequenceState (only sequence towers hold an LSTM state)."""
    towers: tuple[SequenceState, ...]

    @property
    def items(self) -> list[int]:
        return self.towers[0].items


@dataclass
class SessionParts:
    """What one customer's user vector is made of: enough to score, explain and re-rank."""
    user: Tensor                 # [D] the concatenated user vector
    gate: Tensor                 # [T] tower weights
    scales: Tensor               # [T] tau * g_t / sigma_t (1 for a single tower)
    towers: list[tuple]          # per tower: (graph, social, sequence, attention, tower gate, tower vector)


class HybridRecommender(nn.Module):
    def __init__(self, towers: list[Tower], branches: list[tuple[str, ...]]):
        super().__init__()
        if not towers or len(towers) != len(branches):
            raise ValueError("one branch tuple per tower, at least one tower")
        self.towers = nn.ModuleList(towers)
        self.branches = [tuple(b) for b in branches]
        first = towers[0]
        self.n_users, self.n_items, self.max_len = first.n_users, first.n_items, first.max_len
        self.gate = nn.Linear(2, len(towers))
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self._items: Tensor | None = None
        self._moments: list[tuple[Tensor, Tensor]] | None = None
        self._friend_counts: Tensor | None = None

    @classmethod
    def build(cls, n_users: int, n_items: int, n_item_features: int, branches: list[tuple[str, ...]],
              **tower_kwargs) -> "HybridRecommender":
        towers = [Tower.for_branches(n_users, n_items, n_item_features, group, **tower_kwargs) for group in branches]
        return cls(towers, branches)

    # ------------------------------------------------------------ plumbing
    @property
    def single(self) -> bool:
        return len(self.towers) == 1

    @property
    def dim(self) -> int:
        return sum(t.dim for t in self.towers)

    @property
    def graph_inputs(self) -> GraphInputs | None:
        return self.towers[0].graph_inputs

    @property
    def n_item_features(self) -> int:
        features = self.towers[0].features
        return features.num_embeddings if features is not None else 0

    def attach(self, graph_inputs: GraphInputs) -> "HybridRecommender":
        for tower in self.towers:
            tower.attach(graph_inputs)
        self._clear()
        return self

    def _clear(self) -> None:
        self._items, self._moments, self._friend_counts = None, None, None

    def train(self, mode: bool = True):
        self._clear()
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self._clear()
        return out

    def propagate(self, return_attention: bool = False) -> list[Propagated]:
        return [t.propagate(return_attention) for t in self.towers]

    def social_attention(self):
        """(edge_index, alpha) of the social tower's last GAT layer, None without a social branch."""
        for tower in self.towers:
            if tower.active["social"]:
                return tower.propagate(return_attention=True).social_attention
        return None

    def item_matrix(self) -> Tensor:
        """[n_items, dim]: the towers' item vectors side by side (cached in eval mode)."""
        if self._items is not None and not self.training:
            return self._items
        items = torch.cat([p.items for p in self.propagate()], 1)
        if not self.training:
            self._items = items
        return items

    def _item_moments(self) -> list[tuple[Tensor, Tensor]]:
        """Per tower: the mean and the covariance of its item vectors (sigma_t(u)^2 = u_t^T cov u_t);
        cached in eval mode, where scoring and every explanation read them."""
        if self._moments is None or self.training:
            with torch.no_grad():  # constants of the frozen towers: the gate is what is fitted
                moments = [(p.items.mean(0), torch.cov(p.items.T, correction=0)) for p in self.propagate()]
            if self.training:
                return moments
            self._moments = moments
        return self._moments

    def friend_counts(self) -> Tensor:
        if self._friend_counts is None:
            edges = self.graph_inputs.social_edge_index
            self._friend_counts = torch.bincount(edges[0], minlength=self.n_users) if edges.numel() \
                else torch.zeros(self.n_users, dtype=torch.long, device=edges.device)
        return self._friend_counts

    # ------------------------------------------------------------ the gate
    def gate_weights(self, history_len: Tensor, friends: Tensor) -> Tensor:
        """[B, T] tower weights from each user's history length and friend count."""
        length = torch.log1p(history_len.float().clamp(max=self.max_len)) / math.log1p(self.max_len)
        social = torch.log1p(friends.float()) / math.log1p(FRIENDS_SCALE)
        return torch.softmax(self.gate(torch.stack([length, social], -1)), -1)

    def _scales(self, tower_users: list[Tensor], gate: Tensor) -> Tensor:
        """[B, T]: tau * g_t / sigma_t per user and tower."""
        sigmas = [((u @ cov) * u).sum(-1).clamp(min=1e-12).sqrt()
                  for u, (_, cov) in zip(tower_users, self._item_moments())]
        return self.log_temperature.exp() * gate / torch.stack(sigmas, -1)

    def mix(self, tower_users: list[Tensor], history_len: Tensor, friends: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Tower user vectors [B, d_t] -> the concatenated user vector [B, D], gate [B, T], scales [B, T]."""
        if self.single:
            ones = tower_users[0].new_ones(len(tower_users[0]), 1)
            return tower_users[0], ones, ones
        gate = self.gate_weights(history_len, friends)
        scales = self._scales(tower_users, gate)
        return torch.cat([u * scales[:, t:t + 1] for t, u in enumerate(tower_users)], -1), gate, scales

    # ------------------------------------------------------------ batch scoring
    def user_vectors(self, users: Tensor, histories: list[list[int]], explain: bool = False) -> dict:
        """Concatenated user vectors [B, dim] for a batch and the gate [B, T]."""
        vectors = [t.user_vectors(users, histories, explain)["user"] for t in self.towers]
        lengths = torch.tensor([min(len(h), self.max_len) for h in histories], device=users.device)
        user, gate, _ = self.mix(vectors, lengths, self.friend_counts()[users])
        return {"user": user, "gate": gate}

    def scores(self, users: Tensor, histories: list[list[int]]) -> Tensor:
        """[B, n_items] scores over the whole catalogue."""
        return self.user_vectors(users, histories)["user"] @ self.item_matrix().T

    # ------------------------------------------------------------ interactive
    def start_state(self, history: list[int]) -> HybridState:
        return HybridState(tuple(t.start_state(history) for t in self.towers))

    def step(self, state: HybridState, item: int) -> HybridState:
        """Advance every tower by one event (an LSTM cell step in the sequence tower; nothing is recomputed)."""
        return HybridState(tuple(t.step(s, item) for t, s in zip(self.towers, state.towers)))

    def session(self, user: int | None, state: HybridState, friends: list[int] | None = None) -> SessionParts:
        """The user vector of one customer (user None: an anonymous visitor, or a new customer who
        follows `friends`, whose social vector then comes from those friends)."""
        parts, vectors = [], []
        for tower, tower_state in zip(self.towers, state.towers):
            graph, social, sequence, attention = tower.session_branches(user, tower_state)
            if friends and user is None:
                graph, social = self._new_user_vectors(tower, graph, social, friends)
            fused, tower_gate = tower.fuse(graph, social, sequence, len(tower_state.items))
            parts.append((graph, social, sequence, attention, tower_gate, fused))
            vectors.append(fused[None])
        device = vectors[0].device
        length = torch.tensor([len(state.items)], device=device)
        n_friends = self.friend_counts()[user].view(1) if user is not None else \
            torch.tensor([len(friends or ())], device=device)
        user_vec, gate, scales = self.mix(vectors, length, n_friends)
        return SessionParts(user_vec[0], gate[0], scales[0], parts)

    @staticmethod
    def _new_user_vectors(tower: Tower, graph, social, friends: list[int]):
        prop = tower.propagate()
        friend_tensor = torch.tensor(friends, dtype=torch.long, device=prop.items.device)
        if tower.active["graph"] and not tower.prefix_graph:
            graph = prop.user_graph[friend_tensor].mean(0)  # the friends' taste stands in for the user node
        if tower.active["social"]:
            social = tower.social_for_new_user(prop, prop.user_graph[friend_tensor].mean(0), friend_tensor)
        return graph, social

    def branch_contributions(self, parts: SessionParts, items: Tensor) -> Tensor:
        """[k, 3] (graph, social, sequence) for items [k]: each branch's additive part of each
        item's score, measured against the catalogue's average item, so a row sums to the score
        minus a per-user constant. One pass for all the items a request explains.

        A one-branch tower's part is exact. A tower of several branches splits its exact part in
        proportion to Tower.score_contributions (which leaves out the fused norm's bias).
        """
        total = parts.user.new_zeros(len(items), len(BRANCHES))
        for t, (tower, prop, (mean, _)) in enumerate(zip(self.towers, self.propagate(), self._item_moments())):
            graph, social, sequence, _, tower_gate, fused = parts.towers[t]
            centred = prop.items[items] - mean                       # [k, d_t]
            exact = (centred @ fused) * parts.scales[t]              # [k]
            if len(self.branches[t]) == 1:
                total[:, BRANCHES.index(self.branches[t][0])] += exact
                continue
            raw = tower.score_contributions(graph, social, sequence, tower_gate, centred)  # [k, 3]
            sums = raw.sum(1, keepdim=True)
            total += torch.where(sums != 0, raw * (exact[:, None] / sums), raw)
        return total

    def branch_gate(self, parts: SessionParts) -> Tensor:
        """[3]: how much each branch counts for this customer (tower gate times the branch's weight in its tower)."""
        weights = torch.zeros(len(BRANCHES), device=parts.gate.device)
        for t, (*_, tower_gate, _) in enumerate(parts.towers):
            weights = weights + parts.gate[t] * tower_gate
        return weights

    def sequence_attention(self, parts: SessionParts) -> Tensor | None:
        for tower, part in zip(self.towers, parts.towers):
            if tower.active["sequence"]:
                return part[3]
        return None
