"""Tower: collaborative graph + social graph + sequence, fused by a learned vector gate.

A tower holds any non-empty subset of the three branches. HybridRecommender (hybrid.py) trains
one tower per branch and mixes their scores; a tower with all three is the jointly trained
model of earlier versions (TrainConfig.towers="graph+social+sequence").

    user_g, item_g = LightGCN(adjacency)                 K hops of sparse matmul, layer mean
    item_v         = item_g (or a free embedding) + EmbeddingBag(content labels)
    graph[t]       = mean(item_v[items before t])        (graph_user="prefix"; see __init__)
    social         = GAT^H(user_g, friends -> user)      multi-hop, multi-head, attention kept
    seq[t]         = LN(W [h_t; attention-pool(h_<=t)])  LSTM over item_v, causal: every prefix trains
    gate           = softmax(W [LN(branch_b)...; log-length])   over the active branches
    user           = LN(sum_b gate_b * LN(branch_b))      (fused_norm; gate_length adds the length)
    score(u, i)    = <user, item_v[i]>

fused_norm and gate_length (both on by default) lifted validation NDCG@10 on lastfm from 0.1186
(epoch 20, still rising slowly) to 0.1249 and test from below ItemKNN's 0.1162 to 0.1228; on
ciaodvd test 0.0530 -> 0.0545 (validation 0.0612 -> 0.0617). Measured in this session, seed 0.

The item vectors are shared between the LSTM input and the output layer. Branch flags give the
ablations from the same code: `lightgcn` = graph only, `lstm` = sequence only.
In eval mode the propagated graph (item vectors, graph and social user vectors) is computed once
and cached, so serving one customer is an LSTM step plus one matvec.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv

from .dropout import Dropout

BRANCHES = ("graph", "social", "sequence")
GRAPH_USER_MODES = ("bag", "prefix", "embedding")


class SymmetricSpmm(torch.autograd.Function):
    """A @ X for a symmetric sparse A; the gradient is A @ G again (A^T == A), which spares
    torch's generic sparse backward its transpose/format conversion of A on every call."""

    @staticmethod
    def forward(ctx, adjacency: Tensor, x: Tensor) -> Tensor:
        ctx.adjacency = adjacency
        return torch.sparse.mm(adjacency, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, torch.sparse.mm(ctx.adjacency, grad)


@dataclass
class GraphInputs:
    """The dataset's structure the model propagates over (not learned, not in the state_dict)."""
    adjacency: Tensor          # sparse CSR (n_users + n_items)^2, normalized
    social_edge_index: Tensor  # [2, S] (user, friend): the friend influences the user
    item_feature_index: Tensor
    item_feature_offsets: Tensor

    @classmethod
    def from_dataset(cls, dataset) -> "GraphInputs":
        return cls(dataset.adjacency, dataset.social_edge_index,
                   dataset.item_feature_index, dataset.item_feature_offsets)

    def to(self, device) -> "GraphInputs":
        return GraphInputs(self.adjacency.to(device), self.social_edge_index.to(device),
                           self.item_feature_index.to(device), self.item_feature_offsets.to(device))

    @functools.cached_property
    def item_feature_counts(self) -> Tensor:
        """How many content labels each item has (its bag's length), computed once."""
        offsets = self.item_feature_offsets
        return torch.cat([offsets[1:], offsets.new_tensor([len(self.item_feature_index)])]) - offsets


@dataclass
class Propagated:
    user_graph: Tensor         # [n_users, d]
    user_social: Tensor | None  # [n_users, d]
    items: Tensor              # [n_items, d] output/input item vectors
    social_attention: tuple[Tensor, Tensor] | None  # (edge_index incl. self loops, alpha [E]) of the last GAT layer
    social_inputs: list[Tensor] | None = None  # each GAT layer's input (for users added at serving time)


@dataclass
class SequenceState:
    """One customer's recent items and LSTM state: advancing it by one event is one cell step."""
    items: list[int]            # the last <= max_len item indices
    h: Tensor | None = None     # [1, 1, d] (None when the sequence branch is off)
    c: Tensor | None = None
    outputs: Tensor | None = None  # [1 + n, d] LSTM outputs for the start token and the items


def mask_seen_(scores: Tensor, seen: list[list[int]]) -> Tensor:
    """Sets scores[r, i] to -inf for every item i in seen[r], in place; returns scores."""
    rows = torch.tensor([r for r, items in enumerate(seen) for _ in items], dtype=torch.long)
    cols = torch.tensor([i for items in seen for i in items], dtype=torch.long)
    scores[rows.to(scores.device), cols.to(scores.device)] = float("-inf")
    return scores


class Tower(nn.Module):
    """One tower: the branches it is given (graph, social, sequence), fused by a vector gate."""

    def __init__(self, n_users: int, n_items: int, n_item_features: int, dim: int = 64,
                 graph_layers: int = 2, social_layers: int = 2, social_heads: int = 2,
                 max_len: int = 50, dropout: float = 0.5, fused_norm: bool = True,
                 gate_length: bool = True, graph_user: str = "prefix", sequence_dropout: float | None = None,
                 use_graph: bool = True, use_social: bool = True, use_sequence: bool = True,
                 dropout_masks: str = "torch"):
        super().__init__()
        if not (use_graph or use_social or use_sequence):
            raise ValueError("at least one branch must be on")
        self.n_users, self.n_items, self.dim, self.max_len = n_users, n_items, dim, max_len
        self.graph_layers = graph_layers
        if graph_user not in GRAPH_USER_MODES:
            raise ValueError(f"graph_user must be one of {', '.join(GRAPH_USER_MODES)}, not {graph_user!r}")
        # A user's graph vector at serving time is the mean propagated vector of their (last
        # max_len) items. In training, "bag" uses the window's other items (every item but the
        # target: set-like data such as play counts learns most from that), "prefix" only the
        # items before the target (causal). Either way a target never leaks into its own user
        # vector. "embedding": the LightGCN user node itself (classic LightGCN; it memorizes).
        self.prefix_graph = graph_user in ("bag", "prefix")
        self.bag_training = graph_user == "bag"
        self.active = {"graph": use_graph, "social": use_social, "sequence": use_sequence}
        self.user_embedding = nn.Embedding(n_users, dim)
        self.item_embedding = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        self.features = nn.EmbeddingBag(n_item_features, dim, mode="mean") if n_item_features else None
        if self.features is not None:
            nn.init.normal_(self.features.weight, std=0.1)
        self.gat = nn.ModuleList(
            GATConv(dim, dim, heads=social_heads, concat=False, dropout=0.0, add_self_loops=not self.prefix_graph)
            for _ in range(social_layers)) if use_social else nn.ModuleList()
        self.start = nn.Parameter(torch.randn(dim) * 0.1)  # the input before the first event
        if use_sequence:
            self.lstm = nn.LSTM(dim, dim, batch_first=True)
            self.query = nn.Linear(dim, dim, bias=False)
            self.key = nn.Linear(dim, dim, bias=False)
            self.seq_out = nn.Linear(2 * dim, dim)
            self.seq_norm = nn.LayerNorm(dim)
        # gate_length: the gate also sees how many items the history holds. After layer norm a
        # mean over 2 items looks like a mean over 50; which branch to trust depends on it.
        self.gate_length = gate_length
        self.gate = nn.Linear(3 * dim + int(gate_length), 3)
        # Each branch vector is layer-normalized (the sequence one in sequence_head), so the gate
        # weighs vectors of one scale.
        self.graph_norm, self.social_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        # A mix of unit-scale branch vectors is shorter than each of them (more so the more evenly
        # the gate mixes), which flattens the softmax; normalizing the fused vector undoes that.
        self.fused_norm = nn.LayerNorm(dim) if fused_norm else None
        # dropout_masks "pcg64": masks drawn by numpy's PCG64 on the CPU (dropout.py), "torch": nn.Dropout
        make_dropout = Dropout if dropout_masks == "pcg64" else nn.Dropout
        self.dropout = make_dropout(dropout)
        # the LSTM's input and head (None: `dropout`, as the graph and social vectors)
        self.sequence_dropout = make_dropout(dropout if sequence_dropout is None else sequence_dropout)
        self.graph_inputs: GraphInputs | None = None
        self._cache: Propagated | None = None
        # training sets it where only a batch's item rows are updated (train.tower_optimizer):
        # propagate(item_ids=...) then gives the item table a sparse gradient of those rows
        self.sparse_item_rows = False

    @classmethod
    def for_branches(cls, n_users: int, n_items: int, n_item_features: int, branches: tuple[str, ...],
                     **kwargs) -> "Tower":
        """A tower holding exactly `branches` (names from BRANCHES)."""
        return cls(n_users, n_items, n_item_features, **kwargs, **{f"use_{b}": b in branches for b in BRANCHES})

    # ------------------------------------------------------------ graph side
    def attach(self, graph_inputs: GraphInputs) -> "Tower":
        device = self.item_embedding.weight.device
        self.graph_inputs = graph_inputs.to(device)
        self._cache = None
        return self

    def train(self, mode: bool = True):
        self._cache = None  # weights are about to change (or just did)
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        if self.graph_inputs is not None:
            self.graph_inputs = self.graph_inputs.to(self.item_embedding.weight.device)
        self._cache = None
        return out

    def content_vectors(self, item_ids: Tensor | None = None) -> Tensor | None:
        """Each item's content vector (the mean of its label embeddings); only item_ids' when given."""
        if self.features is None:
            return None
        g = self.graph_inputs
        if item_ids is None:
            return self.features(g.item_feature_index, g.item_feature_offsets)
        starts, counts = g.item_feature_offsets[item_ids], g.item_feature_counts[item_ids]
        # the labels of item_ids, bag after bag: position k of bag b is starts[b] + k
        bag_starts = torch.cumsum(counts, 0) - counts
        within = torch.arange(int(counts.sum()), device=counts.device) - bag_starts.repeat_interleave(counts)
        index = g.item_feature_index[starts.repeat_interleave(counts) + within]
        return self.features(index, bag_starts)

    def propagate(self, return_attention: bool = False, item_ids: Tensor | None = None) -> Propagated:
        """Graph and social user vectors and the item vectors; cached in eval mode.

        item_ids (training a tower without the graph branch, whose item vectors are row by row):
        compute only these items' vectors; `items` then holds them in that order, and the caller
        indexes it with positions in item_ids (start token len(item_ids), padding one more).
        """
        if item_ids is not None:
            if self.active["graph"]:
                raise ValueError("a tower with the graph branch propagates over every item")
            if not self.training:
                raise ValueError("item_ids is for training (eval mode caches the whole catalogue)")
        elif not self.training and self._cache is not None and \
                (self._cache.social_attention is not None or not return_attention or not self.active["social"]):
            return self._cache
        if self.graph_inputs is None:
            raise RuntimeError("call attach(GraphInputs) before using the model")
        users = self.user_embedding.weight
        if item_ids is None:
            items = self.item_embedding.weight
        else:  # a sparse gradient (only item_ids' rows) when training updates only those rows
            items = F.embedding(item_ids, self.item_embedding.weight, sparse=self.sparse_item_rows)
        if self.active["graph"]:
            x = torch.cat([users, items])
            layers = [x]
            for _ in range(self.graph_layers):
                x = SymmetricSpmm.apply(self.graph_inputs.adjacency, x)
                layers.append(x)
            x = torch.stack(layers).mean(0)
            users, items = x[: self.n_users], x[self.n_users:]
        content = self.content_vectors(item_ids)
        if content is not None:
            items = items + content
        social, attention, inputs = None, None, None
        if self.active["social"]:
            social, attention, inputs = self._social(users, return_attention or not self.training)
        out = Propagated(users, social, items, attention, inputs)
        if not self.training:
            self._cache = out
        return out

    def _social(self, users: Tensor, return_attention: bool):
        edge_index = self.graph_inputs.social_edge_index.flip(0)  # messages flow friend -> user
        x, attention, inputs = users, None, []
        for layer, conv in enumerate(self.gat):
            inputs.append(x)
            if return_attention and layer == len(self.gat) - 1:
                x, (att_edges, alpha) = conv(x, edge_index, return_attention_weights=True)
                attention = (att_edges, alpha.mean(1))
            else:
                x = conv(x, edge_index)
            if layer < len(self.gat) - 1:
                x = F.elu(x)
        return (x if self.prefix_graph else users + x), attention, inputs

    def social_for_new_user(self, prop: Propagated, graph_vector: Tensor, friends: Tensor) -> Tensor:
        """The social vector of a customer who is not in the graph, from the friends they follow.

        Runs each GAT layer on the star graph {new user <- friends}, with the friends' own layer
        inputs, which is exactly what the layer computes for a node with those in-edges.
        """
        x = graph_vector
        n = len(friends)
        edge_index = torch.stack([torch.arange(1, n + 1), torch.zeros(n, dtype=torch.long)]).to(x.device)
        for layer, conv in enumerate(self.gat):
            x = conv(torch.cat([x[None], prop.social_inputs[layer][friends]]), edge_index)[0]
            if layer < len(self.gat) - 1:
                x = F.elu(x)
        return x if self.prefix_graph else graph_vector + x

    # ------------------------------------------------------------ sequence side
    def _item_table(self, prop: Propagated) -> Tensor:
        """Item vectors plus the start token (index n_items) and padding (n_items + 1)."""
        return torch.cat([prop.items, self.start[None], prop.items.new_zeros(1, self.dim)])

    def encode_sequences(self, prop: Propagated, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """inputs [B, L] right-padded item indices (start token first) -> per-position vectors and attention.

        Returns q [B, L, d] (position t sees inputs[..t]) and attention [B, L, L] (row t sums to 1 over s <= t).
        """
        x = self.sequence_dropout(self._item_table(prop)[inputs])
        out, _ = self.lstm(x)
        return self._pool(out, lengths)

    def _pool(self, out: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        L = out.shape[1]
        scores = self.query(out) @ self.key(out).transpose(1, 2) / self.dim ** 0.5
        positions = torch.arange(L, device=out.device)
        causal = positions[None, :] <= positions[:, None]                  # s <= t
        valid = positions[None, :] < lengths[:, None]                     # s is a real input
        allowed = causal[None] & valid[:, None, :]
        allowed = allowed | (positions[None, None, :] == 0)               # keep padded rows finite
        attention = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        pooled = attention @ out
        q = self.sequence_head(self.sequence_dropout(torch.cat([out, pooled], -1)))
        return q, attention

    def sequence_head(self, state_and_pooled: Tensor) -> Tensor:
        """[..., 2d] (LSTM output, attention-pooled outputs) -> the sequence branch's user vector."""
        return self.seq_norm(self.seq_out(state_and_pooled))

    # ------------------------------------------------------------ fusion
    def _parts(self, graph: Tensor | None, social: Tensor | None, sequence: Tensor | None) -> list[Tensor]:
        """The three branch vectors at one scale (layer-normalized; zeros for a branch that is off)."""
        graph = self.graph_norm(graph) if graph is not None else None
        social = self.social_norm(social) if social is not None else None
        present = next(v for v in (graph, social, sequence) if v is not None)
        return [v if v is not None else torch.zeros_like(present) for v in (graph, social, sequence)]

    def fuse(self, graph: Tensor | None, social: Tensor | None, sequence: Tensor | None,
             history_len: Tensor | int = 0) -> tuple[Tensor, Tensor]:
        """[..., d] branch vectors (None when off) -> user vector [..., d] and gate weights [..., 3].

        history_len: [...] (or an int) how many items the history behind these vectors holds.
        """
        present = [b for b, v in enumerate((graph, social, sequence)) if v is not None]
        if len(present) == 1:  # a one-branch tower: the gate is exactly one-hot, the mix that branch alone
            b = present[0]
            part = self.graph_norm(graph) if b == 0 else self.social_norm(social) if b == 1 else sequence
            weights = F.one_hot(torch.tensor(b, device=part.device), 3).to(part.dtype).expand(*part.shape[:-1], 3)
            return (self.fused_norm(part) if self.fused_norm is not None else part), weights
        parts = self._parts(graph, social, sequence)
        gate_in = parts
        if self.gate_length:
            length = torch.as_tensor(history_len, dtype=parts[0].dtype, device=parts[0].device)
            length = torch.log1p(length.clamp(max=self.max_len)) / math.log1p(self.max_len)
            gate_in = parts + [length.expand(parts[0].shape[:-1])[..., None]]
        logits = self.gate(torch.cat(gate_in, -1))
        off = torch.tensor([v is None for v in (graph, social, sequence)], device=logits.device)
        weights = torch.softmax(logits.masked_fill(off, float("-inf")), -1)
        user = sum(weights[..., b:b + 1] * parts[b] for b in range(3))
        if self.fused_norm is not None:
            user = self.fused_norm(user)
        return user, weights

    def score_contributions(self, graph: Tensor | None, social: Tensor | None, sequence: Tensor | None,
                            gate: Tensor, item_vectors: Tensor) -> Tensor:
        """[k, 3]: each branch's additive part of <user, item> for one user vector (fuse's
        arguments) and item_vectors [k, d].

        Exact up to a factor common to all three (the fused norm's 1/std) and the fused norm's
        bias, which belongs to no branch.
        """
        parts = torch.stack(self._parts(graph, social, sequence))  # [3, d]
        if self.fused_norm is not None:  # layer norm is linear after its mean and std are fixed
            parts = (parts - parts.mean(-1, keepdim=True)) * self.fused_norm.weight
        return gate * (item_vectors @ parts.T)

    def _mean_table(self, prop: Propagated) -> Tensor:
        """Item vectors plus zero rows for the start token and padding, which add nothing to a mean."""
        return torch.cat([prop.items, prop.items.new_zeros(2, self.dim)])

    def prefix_means(self, prop: Propagated, inputs: Tensor) -> Tensor:
        """[B, L, d]: mean item vector of the real items among inputs[..t] (zero before any)."""
        table = self._mean_table(prop)
        real = (inputs < len(prop.items)).to(prop.items.dtype).cumsum(1).clamp(min=1)
        return table[inputs].cumsum(1) / real[..., None]

    def bag_means(self, prop: Propagated, targets: Tensor) -> Tensor:
        """[B, L, d]: mean item vector of the other targets of the row (zero when there are none)."""
        vectors = self._mean_table(prop)[targets]
        real = (targets < len(prop.items)).to(prop.items.dtype)
        others = (real.sum(1, keepdim=True) - real).clamp(min=1)
        return (vectors.sum(1, keepdim=True) - vectors) / others[..., None]

    def branch_vectors(self, prop: Propagated, users: Tensor | None, inputs: Tensor, lengths: Tensor,
                       targets: Tensor | None = None):
        """Per prefix position: graph, social and sequence vectors [B, L, d] (None when off), sequence attention.

        targets (training only): the items each position predicts, for the "bag" graph vector.
        """
        B, L = inputs.shape
        graph = social = sequence = attention = None
        if self.active["graph"]:
            if not self.prefix_graph:
                graph = prop.user_graph[users][:, None].expand(B, L, -1)
            elif self.bag_training and targets is not None:
                graph = self.bag_means(prop, targets)
            else:
                graph = self.prefix_means(prop, inputs)
        if self.active["social"]:
            social = prop.user_social[users][:, None].expand(B, L, -1)
        if self.active["sequence"]:
            sequence, attention = self.encode_sequences(prop, inputs, lengths)
        return graph, social, sequence, attention

    def last_branch_vectors(self, prop: Propagated, users: Tensor, inputs: Tensor, lengths: Tensor):
        """branch_vectors at each row's last position only: [B, d] each (None when off), and the
        sequence attention of that position [B, L]. The same vectors for a fraction of the work
        (no per-position attention, head or prefix means), which is what scoring needs."""
        last = lengths - 1
        graph = social = sequence = attention = None
        if self.active["graph"]:
            if self.prefix_graph:
                real = (inputs < self.n_items).sum(1).clamp(min=1).to(prop.items.dtype)
                graph = self._mean_table(prop)[inputs].sum(1) / real[:, None]
            else:
                graph = prop.user_graph[users]
        if self.active["social"]:
            social = prop.user_social[users]
        if self.active["sequence"]:
            out, _ = self.lstm(self.sequence_dropout(self._item_table(prop)[inputs]))
            sequence, attention = self._pool_last(out, last)
        return graph, social, sequence, attention

    def _pool_last(self, out: Tensor, last: Tensor) -> tuple[Tensor, Tensor]:
        """LSTM outputs [B, L, d] and each row's last real position [B] -> the sequence vector at
        that position [B, d] and its attention over positions <= last [B, L] (_pool, one position)."""
        state = out[torch.arange(len(out), device=out.device), last]          # [B, d]
        scores = (self.key(out) @ self.query(state)[:, :, None])[..., 0] / self.dim ** 0.5  # [B, L]
        positions = torch.arange(out.shape[1], device=out.device)
        attention = torch.softmax(scores.masked_fill(positions[None] > last[:, None], float("-inf")), -1)
        pooled = (attention[:, None] @ out)[:, 0]
        return self.sequence_head(self.sequence_dropout(torch.cat([state, pooled], -1))), attention

    @property
    def position_independent(self) -> bool:
        """Whether the fused user vector is the same at every position of a user's window: no
        sequence branch, no prefix-mean graph vector, and no history length in a multi-branch
        gate (the social tower of the hybrid). Training then computes it once per user
        (training_row_vectors) instead of once per target."""
        if self.active["sequence"] or (self.active["graph"] and self.prefix_graph):
            return False
        return sum(self.active.values()) == 1 or not self.gate_length

    def training_row_vectors(self, users: Tensor, prop: Propagated) -> Tensor:
        """[B, d]: the fused user vector of each user of a position_independent tower, with one
        dropout mask per user (each of the user's targets is scored with that one vector)."""
        if not self.position_independent:
            raise ValueError("this tower's user vector depends on the position: use training_user_vectors")
        graph = self.dropout(prop.user_graph[users]) if self.active["graph"] else None
        social = self.dropout(prop.user_social[users]) if self.active["social"] else None
        return self.fuse(graph, social, None)[0]

    def training_user_vectors(self, users: Tensor, inputs: Tensor, lengths: Tensor, prop: Propagated,
                              targets: Tensor | None = None) -> Tensor:
        """Fused user vectors for every prefix position: [B, L, d]. inputs and targets index
        prop.items (the start token one past its end, padding two past)."""
        graph, social, sequence, _ = self.branch_vectors(prop, users, inputs, lengths, targets)
        drop = lambda v: self.dropout(v) if v is not None else None  # noqa: E731
        history_len = (inputs < len(prop.items)).cumsum(1)  # real items in inputs[..t]
        return self.fuse(drop(graph), drop(social), sequence, history_len)[0]

    # ------------------------------------------------------------ inference
    def pad_histories(self, histories: list[list[int]], device=None) -> tuple[Tensor, Tensor]:
        """Start token + the last max_len items of each history, right-padded."""
        pad = self.n_items + 1
        tails = [h[-self.max_len:] for h in histories]
        L = 1 + max((len(t) for t in tails), default=0)
        rows = [[self.n_items] + t + [pad] * (L - 1 - len(t)) for t in tails]
        lengths = torch.tensor([1 + len(t) for t in tails], device=device)
        return torch.tensor(rows, dtype=torch.long, device=device), lengths

    def user_vectors(self, users: Tensor, histories: list[list[int]], explain: bool = False) -> dict:
        """Fused user vectors for a batch (from each user's history), gate weights and branch vectors."""
        prop = self.propagate(return_attention=explain)
        inputs, lengths = self.pad_histories(histories, users.device)
        graph, social, sequence, attention = self.last_branch_vectors(prop, users, inputs, lengths)
        user, gate = self.fuse(graph, social, sequence, lengths - 1)
        return {"prop": prop, "user": user, "gate": gate, "branches": (graph, social, sequence),
                "sequence_attention": attention}  # attention over [start, items...]

    def scores(self, users: Tensor, histories: list[list[int]]) -> Tensor:
        """[B, n_items] scores over the whole catalogue."""
        out = self.user_vectors(users, histories)
        return out["user"] @ out["prop"].items.T

    @staticmethod
    def top_k(scores: Tensor, k: int, seen: list[list[int]] | None = None) -> tuple[Tensor, Tensor]:
        """Top-k (values, indices) per row with each row's seen items masked."""
        if seen:
            scores = mask_seen_(scores.clone(), seen)
        return torch.topk(scores, min(k, scores.shape[1]), dim=1)

    # ------------------------------------------------------------ interactive
    def start_state(self, history: list[int]) -> SequenceState:
        """The state after the start token and `history` (its last max_len items)."""
        items = list(history[-self.max_len:])
        if not self.active["sequence"]:
            return SequenceState(items)
        prop = self.propagate()
        inputs = torch.tensor([[self.n_items] + items], device=prop.items.device)
        out, (h, c) = self.lstm(self._item_table(prop)[inputs])
        return SequenceState(items, h, c, out[0])

    def step(self, state: SequenceState, item: int) -> SequenceState:
        """Advance by one event: one LSTM cell step; the graph is not recomputed.

        Equals `start_state(history + [item])` while the history is shorter than max_len (after
        that, the state keeps memory of items older than the window, which is what a session wants).
        """
        items = (state.items + [item])[-self.max_len:]
        if not self.active["sequence"]:
            return SequenceState(items)
        prop = self.propagate()
        out, (h, c) = self.lstm(prop.items[item].view(1, 1, -1), (state.h, state.c))
        outputs = torch.cat([state.outputs, out[0]])[-(self.max_len + 1):]
        return SequenceState(items, h, c, outputs)

    def session_branches(self, user: int | None, state: SequenceState):
        """Graph, social, sequence vectors [d] (None when off) and sequence attention for one customer.

        An unknown customer (user None) gets the average social vector, and in "embedding" mode
        the average graph vector.
        """
        prop = self.propagate()
        graph = social = sequence = attention = None
        if self.active["graph"]:
            if self.prefix_graph:
                graph = prop.items[state.items].mean(0) if state.items else prop.items.new_zeros(self.dim)
            else:
                graph = prop.user_graph[user] if user is not None else prop.user_graph.mean(0)
        if self.active["social"]:
            social = prop.user_social[user] if user is not None else prop.user_social.mean(0)
        if self.active["sequence"]:
            out = state.outputs
            sequence, attention = self._pool_last(out[None], out.new_tensor([len(out) - 1], dtype=torch.long))
            sequence, attention = sequence[0], attention[0]
        return graph, social, sequence, attention
