"""`Recommender`: a trained HybridRecommender ready to serve (the facade the Django app calls).

Holds the model in eval mode with its propagated graph cached, the id maps, each customer's
history (time-ordered item indices: the sequence input and the items to leave out), and the
graph inputs, so a checkpoint is self-contained. Checkpoints are plain tensors/lists/dicts,
read back with `torch.load(weights_only=True)`.
Unknown ids never raise in serving paths: an unknown user is served as an anonymous visitor
(average graph and social vector, no sequence), unknown items are ignored.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor

from . import explain as ex
from .data import DataError
from .hybrid import HybridRecommender, HybridState, SessionParts
from .model import GraphInputs, mask_seen_
from .train import TrainConfig, TrainResult

FORMAT = "graphcart-hybrid/3"
# Older formats this code still reads: the config fields each lacked, with the values that
# rebuild the model it was saved from. Bump FORMAT (and add a row here) whenever the model's
# layers or a config default change what a saved state_dict means.
LEGACY_FORMATS = {
    "graphcart-hybrid/1": {"fused_norm": False, "gate_length": False, "towers": "graph+social+sequence"},
    "graphcart-hybrid/2": {"towers": "graph+social+sequence"},
}
# Formats 1 and 2 hold one jointly trained tower whose parameters sat at the top of the state_dict.
SINGLE_TOWER_FORMATS = {"graphcart-hybrid/1", "graphcart-hybrid/2"}
Names = Callable[[str, str], str]
# Known customers whose start state (the sequence tower's pass over their history) a Recommender
# keeps: a page view then costs one LSTM step per new event, not a pass over 50 items. A state
# is ~15 KB (51 LSTM outputs of 64 floats, more with more dims).
START_STATE_CACHE = 4096


@dataclass
class SessionState:
    """One customer's interactive session: their cached branch vectors and LSTM state."""
    user: int | None                     # index, None for an anonymous visitor
    sequence: HybridState                # recent items (and the LSTM state of the sequence tower)
    seen: frozenset[int] = field(default_factory=frozenset)
    # The fused vectors of this exact state, computed once: scoring, re-ranking and every
    # explanation of one request read them. Not an init field, so step()'s replace() drops it.
    _vectors: SessionParts | None = field(default=None, init=False, repr=False, compare=False)


def single_tower_state(state: dict, model: HybridRecommender) -> dict:
    """A format 1/2 state_dict (one tower, at the top level) in today's layout: the tower under
    towers.0 and the (unused, one-tower) score gate at its initial values."""
    fresh = model.state_dict()
    upgraded = {f"towers.0.{k}": v for k, v in state.items()}
    upgraded.update({k: v for k, v in fresh.items() if not k.startswith("towers.")})
    return upgraded


def checkpoint_fingerprint(user_ids: Sequence[str], item_ids: Sequence[str], config: dict) -> str:
    text = "\x1f".join(["users", *user_ids, "items", *item_ids, "config", repr(sorted(config.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Recommender:
    def __init__(self, model: HybridRecommender, config: TrainConfig, user_ids: list[str], item_ids: list[str],
                 histories: list[list[int]], dataset_fingerprint: str, item_names: dict[str, str] | None = None):
        self.model = model.eval()
        self.config = config
        self.user_ids, self.item_ids = list(user_ids), list(item_ids)
        self.user_index = {u: k for k, u in enumerate(self.user_ids)}
        self.item_index = {i: k for k, i in enumerate(self.item_ids)}
        self.histories = histories
        self.seen = [frozenset(h) for h in histories]
        self.dataset_fingerprint = dataset_fingerprint
        self.item_names = item_names or {}
        self._user_matrix: Tensor | None = None
        self._items_t: Tensor | None = None
        with torch.no_grad():
            model.propagate(return_attention=True)
            self.items = model.item_matrix()  # [n_items, model.dim]: what every user vector is scored against
        self._friends: dict[int, list[tuple[int, float]]] | None = None  # social attention by user, built on first use
        # histories are fixed per checkpoint and states are never changed in place (step makes new ones)
        self._start_state = lru_cache(maxsize=START_STATE_CACHE)(self._history_state)
        self.version_info = {"config": config.to_dict(), "fingerprint": dataset_fingerprint,
                             "n_users": len(self.user_ids), "n_items": len(self.item_ids)}

    # ------------------------------------------------------------ construction, checkpoints
    @classmethod
    def from_training(cls, result: TrainResult, dataset) -> "Recommender":
        # Serving sees everything the customer did, held-out items included.
        histories = [dataset.history(u, "test") + ([int(dataset.test_items[u])] if int(dataset.test_items[u]) >= 0 else [])
                     for u in range(dataset.n_users)]
        model = result.model.to("cpu")
        return cls(model, result.config, dataset.user_ids, dataset.item_ids, histories, dataset.fingerprint,
                   dataset.item_names)

    def save(self, path_or_file) -> None:
        g = self.model.graph_inputs
        adjacency = g.adjacency.cpu()
        flat = [i for h in self.histories for i in h]
        lengths = [len(h) for h in self.histories]
        config = self.config.to_dict()
        torch.save({
            "format": FORMAT,
            "config": config,
            "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()},
            "user_ids": self.user_ids, "item_ids": self.item_ids,
            "item_names": self.item_names,
            "dataset_fingerprint": self.dataset_fingerprint,
            "fingerprint": checkpoint_fingerprint(self.user_ids, self.item_ids, config),
            "n_item_features": self.model.n_item_features,
            "graph": {"crow": adjacency.crow_indices(), "col": adjacency.col_indices(), "val": adjacency.values(),
                      "social": g.social_edge_index.cpu(), "feature_index": g.item_feature_index.cpu(),
                      "feature_offsets": g.item_feature_offsets.cpu()},
            "history_items": torch.tensor(flat, dtype=torch.long),
            "history_lengths": torch.tensor(lengths, dtype=torch.long),
        }, path_or_file)

    @classmethod
    def load(cls, path_or_file, map_location="cpu", expect_fingerprint: str | None = None) -> "Recommender":
        """Load a checkpoint; DataError when the file is corrupt, foreign, or does not match itself.

        expect_fingerprint: the dataset fingerprint the caller serves for; a checkpoint trained on
        another dataset is refused.
        """
        label = getattr(path_or_file, "name", None) or ("<stream>" if isinstance(path_or_file, io.IOBase)
                                                         else str(path_or_file))
        try:
            blob = torch.load(path_or_file, map_location=map_location, weights_only=True)
        except Exception as exc:  # pickle, zip and torch errors all mean the same thing here
            raise DataError(label, None, f"not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
        if not isinstance(blob, dict) or not str(blob.get("format", "")).startswith("graphcart-hybrid/"):
            raise DataError(label, None, f"not a GraphCart hybrid checkpoint (expected format {FORMAT!r})")
        if blob["format"] != FORMAT and blob["format"] not in LEGACY_FORMATS:
            raise DataError(label, None, f"checkpoint format {blob['format']!r} is not one this code reads "
                                         f"({FORMAT!r}, {', '.join(map(repr, LEGACY_FORMATS))}): retrain the model")
        try:
            config = TrainConfig.from_dict({**LEGACY_FORMATS.get(blob["format"], {}), **blob["config"]})
            user_ids, item_ids = list(blob["user_ids"]), list(blob["item_ids"])
            if checkpoint_fingerprint(user_ids, item_ids, blob["config"]) != blob["fingerprint"]:
                raise DataError(label, None, "fingerprint does not match the id maps and config it holds")
            if expect_fingerprint is not None and blob["dataset_fingerprint"] != expect_fingerprint:
                raise DataError(label, None, f"trained on another dataset (fingerprint {blob['dataset_fingerprint']}, "
                                             f"expected {expect_fingerprint})")
            g = blob["graph"]
            n = len(user_ids) + len(item_ids)
            adjacency = torch.sparse_csr_tensor(g["crow"], g["col"], g["val"], size=(n, n), check_invariants=True)
            model = HybridRecommender.build(len(user_ids), len(item_ids), int(blob["n_item_features"]),
                                            config.tower_branches(), **config.tower_kwargs())
            state = blob["state_dict"]
            if blob["format"] in SINGLE_TOWER_FORMATS:
                state = single_tower_state(state, model)
            model.load_state_dict(state, strict=True)
            model.attach(GraphInputs(adjacency, g["social"], g["feature_index"], g["feature_offsets"]))
            lengths = blob["history_lengths"].tolist()
            flat = blob["history_items"].tolist()
            if len(lengths) != len(user_ids) or sum(lengths) != len(flat):
                raise DataError(label, None, "histories do not match the user map")
        except DataError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise DataError(label, None, f"checkpoint does not match its config: {exc}") from exc
        histories, pos = [], 0
        for length in lengths:
            histories.append(flat[pos:pos + length])
            pos += length
        return cls(model, config, user_ids, item_ids, histories, blob["dataset_fingerprint"], blob.get("item_names"))

    # ------------------------------------------------------------ lookups
    def has_user(self, user_id: str) -> bool:
        return str(user_id) in self.user_index

    def has_item(self, item_id: str) -> bool:
        return str(item_id) in self.item_index

    def _items(self, item_ids: Iterable[str]) -> list[int]:
        return [self.item_index[str(i)] for i in item_ids if str(i) in self.item_index]

    def _name(self, names: Names | None) -> Names:
        if names is not None:
            return names
        return lambda kind, key: self.item_names.get(key, key) if kind == "item" else key

    def _ranked(self, scores: Tensor, k: int, masked: Iterable[int]) -> list[tuple[str, float]]:
        scores = scores.clone()
        masked = list(masked)
        if masked:
            scores[torch.tensor(masked, dtype=torch.long)] = float("-inf")
        values, indices = torch.topk(scores, min(k, len(scores)))
        return [(self.item_ids[i], float(v)) for v, i in zip(values.tolist(), indices.tolist()) if v != float("-inf")]

    # ------------------------------------------------------------ batch recommendations
    def _fused(self, users: list[int]) -> Tensor:
        with torch.no_grad():
            return self.model.user_vectors(torch.tensor(users, dtype=torch.long),
                                           [self.histories[u] for u in users])["user"]

    def recommend(self, user_id: str, k: int = 10, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        state = self.session(user_id)
        return self.score_session(state, k, exclude)

    def recommend_many(self, user_ids: Sequence[str], k: int, batch_size: int = 1024) -> dict[str, list[tuple[str, float]]]:
        out: dict[str, list[tuple[str, float]]] = {}
        known = [u for u in user_ids if self.has_user(u)]
        for u in user_ids:
            if not self.has_user(u):
                out[u] = self.recommend(u, k)
        if self._items_t is None:
            # [dim, n_items] contiguous: as the right operand of the batch matmul it is ~1.6x faster
            # than items.T (a strided view), at 192 dims x 50k items on this CPU
            self._items_t = self.items.T.contiguous()
        buffer = None  # one [batch, n_items] score buffer for every batch: no 200 MB allocation each time
        for start in range(0, len(known), batch_size):
            batch = known[start:start + batch_size]
            indices = [self.user_index[u] for u in batch]
            with torch.no_grad():
                if buffer is None or buffer.shape[0] != len(batch):
                    buffer = self._items_t.new_empty(len(batch), self._items_t.shape[1])
                scores = torch.mm(self._fused(indices), self._items_t, out=buffer)
                mask_seen_(scores, [self.histories[i] for i in indices])  # in place: the buffer is ours
                values, top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
                short = (values == float("-inf")).any(1).tolist()  # rows with fewer than k unseen items
            # 100k users x 100 items are 10M pairs: built by zip/map, not a per-pair comprehension
            # (~5x faster; at that scale the comprehension was ~9 s of the ~37 s)
            item_id = self.item_ids.__getitem__
            for u, row, vals, padded in zip(batch, top.tolist(), values.tolist(), short):
                pairs = list(zip(map(item_id, row), vals))
                out[u] = [(i, v) for i, v in pairs if v != float("-inf")] if padded else pairs
        return out

    # ------------------------------------------------------------ sessions (interactive)
    def session(self, user_id: str | None, recent_item_ids: Sequence[str] = ()) -> SessionState:
        user = self.user_index.get(str(user_id)) if user_id is not None else None
        recent = self._items(recent_item_ids)
        sequence = self._start_state(user)
        with torch.no_grad():
            for item in recent:
                sequence = self.model.step(sequence, item)
        return SessionState(user, sequence, (self.seen[user] if user is not None else frozenset()) | frozenset(recent))

    def _history_state(self, user: int | None) -> HybridState:
        """The model's state after a known customer's history (None: an empty history)."""
        with torch.no_grad():
            return self.model.start_state(list(self.histories[user]) if user is not None else [])

    def step(self, state: SessionState, item_id: str) -> SessionState:
        item = self.item_index.get(str(item_id))
        if item is None:
            return state
        with torch.no_grad():
            sequence = self.model.step(state.sequence, item)
        return replace(state, sequence=sequence, seen=state.seen | {item})

    def _session_vectors(self, state: SessionState) -> SessionParts:
        """The customer's user vector, gates and branch vectors for a session (cached on it)."""
        if state._vectors is None:
            state._vectors = self.model.session(state.user, state.sequence)
        return state._vectors

    def score_session(self, state: SessionState, k: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        with torch.no_grad():
            scores = self.items @ self._session_vectors(state).user
        return self._ranked(scores, k, set(state.seen) | set(self._items(exclude)))

    def rerank(self, state: SessionState, candidate_item_ids: Sequence[str]) -> list[tuple[str, float]]:
        candidates = self._items(candidate_item_ids)
        if not candidates:
            return []
        with torch.no_grad():
            scores = self.items[torch.tensor(candidates)] @ self._session_vectors(state).user
        order, values = torch.argsort(scores, descending=True, stable=True).tolist(), scores.tolist()
        return [(self.item_ids[candidates[i]], values[i]) for i in order]

    # ------------------------------------------------------------ explanations
    def explain(self, user_id: str, item_id: str, names: Names | None = None) -> dict:
        return self.explain_session(self.session(user_id), item_id, names)

    def explain_session(self, state: SessionState, item_id: str, names: Names | None = None) -> dict:
        return self.explain_session_many(state, [item_id], names)[0]

    def explain_session_many(self, state: SessionState, item_ids: Sequence[str], names: Names | None = None) -> list[dict]:
        """One explanation per item, in order (KeyError for an unknown item): the branch shares of
        all of them in one pass; the gate, attention and friends are the session's, read once."""
        unknown = [i for i in item_ids if str(i) not in self.item_index]
        if unknown:
            raise KeyError(f"unknown item {unknown[0]!r}")
        items = [self.item_index[str(i)] for i in item_ids]
        if not items:
            return []
        with torch.no_grad():
            parts = self._session_vectors(state)
            contributions = self.model.branch_contributions(parts, torch.tensor(items))
            gate = self.model.branch_gate(parts)
            attention = self.model.sequence_attention(parts)
        friends = self.friend_attention(state.user) if state.user is not None else []
        recent = [(self.item_ids[i], w) for i, w in ex.recent_weights(state.sequence.items, attention)]
        name = self._name(names)
        return [ex.build_explanation(shares, self._friends_for_item(friends, item), recent, name)
                for item, shares in zip(items, ex.signal_shares(contributions, gate))]

    def _friends_for_item(self, friends: list[tuple[int, float]], item: int) -> list[tuple[str, float, bool]]:
        """(friend id, weight, chose the item) for the explanation's top friends, plus the strongest
        friend who chose the item when none of those did (the sentence names that one); the rest
        of a long friend list is never read."""
        out = [(self.user_ids[f], w, item in self.seen[f]) for f, w in friends[:ex.TOP]]
        if not any(hit for *_, hit in out):
            chooser = next(((f, w) for f, w in friends[ex.TOP:] if item in self.seen[f]), None)
            if chooser is not None:
                out.append((self.user_ids[chooser[0]], chooser[1], True))
        return out

    def friend_attention(self, user: int) -> list[tuple[int, float]]:
        """(friend index, social attention weight) for a known user, strongest first."""
        if self._friends is None:
            self._friends = ex.friends_by_user(self.model.social_attention())
        return self._friends.get(user, [])

    # ------------------------------------------------------------ other entry points
    def cold_start(self, friend_ids: Sequence[str], k: int, exclude=()) -> list[tuple[str, float]]:
        """A new customer who follows `friend_ids`: their taste from the social branch over those friends."""
        friends = [self.user_index[f] for f in friend_ids if f in self.user_index]
        if not friends:
            return []
        with torch.no_grad():
            parts = self.model.session(None, self.model.start_state([]), friends)
            scores = self.items @ parts.user
        return self._ranked(scores, k, self._items(exclude))

    def similar_items(self, item_id: str, k: int) -> list[tuple[str, float]]:
        item = self.item_index.get(str(item_id))
        if item is None:
            return []
        vectors = torch.nn.functional.normalize(self.items, dim=1)
        return self._ranked(vectors @ vectors[item], k, [item])

    def user_scores_for_item(self, item_id: str, k: int) -> list[tuple[str, float]]:
        """Customers most likely to want the item (who have not had it yet)."""
        item = self.item_index.get(str(item_id))
        if item is None:
            return []
        if self._user_matrix is None:
            users = list(range(len(self.user_ids)))
            self._user_matrix = torch.cat([self._fused(users[s:s + 1024]) for s in range(0, len(users), 1024)]) \
                if users else torch.empty(0, self.model.dim)
        with torch.no_grad():
            scores = self._user_matrix @ self.items[item]
        owners = [u for u, seen in enumerate(self.seen) if item in seen]
        if owners:
            scores[torch.tensor(owners)] = float("-inf")
        values, indices = torch.topk(scores, min(k, len(scores)))
        return [(self.user_ids[u], float(v)) for v, u in zip(values.tolist(), indices.tolist()) if v != float("-inf")]
