"""Interactions, social edges, reviews and item features -> tensors, with the temporal split.

Two entry points build the same `Dataset`:
- `load_csv(...)` reads the CSV contract of DESIGN.md, validating every row
  (`DataError` names file, line and reason);
- `build_dataset(...)` takes already-parsed records (the Django snapshot uses it).

Everything is vectorized with numpy: a 200k-row file loads in about a second.
"""
from __future__ import annotations

import csv
import hashlib
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

# Edge weight of one interaction: purchase > cart > view. A rating event scales by the rating.
EVENT_WEIGHTS = {"view": 1.0, "cart": 2.0, "purchase": 3.0, "rating": 2.0}
NEUTRAL_RATING = 3.0
# A review's sentiment s in [-1, 1] multiplies its edge by 1 + SENTIMENT_STRENGTH * s.
SENTIMENT_STRENGTH = 0.5
PRICE_BANDS = 5
TEXT_COLUMNS = frozenset({"title", "description", "name"})


class DataError(ValueError):
    """Bad input: `str(e)` is "FILE:LINE: reason" (or "FILE: reason" when no line applies)."""

    def __init__(self, file: str, line: int | None, reason: str):
        self.file, self.line, self.reason = str(file), line, reason
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {reason}")


@dataclass
class Interaction:
    user_id: str
    item_id: str
    timestamp: float
    event: str | None = None
    rating: float | None = None
    weight: float | None = None


@dataclass
class Dataset:
    name: str
    user_ids: list[str]
    item_ids: list[str]
    user_index: dict[str, int]
    item_index: dict[str, int]
    train_users: torch.Tensor
    train_items: torch.Tensor
    train_weights: torch.Tensor
    train_seqs: list[list[int]]
    val_items: torch.Tensor
    test_items: torch.Tensor
    adjacency: torch.Tensor  # normalized (n_users + n_items)^2 sparse CSR, users first
    social_edge_index: torch.Tensor
    item_feature_index: torch.Tensor
    item_feature_offsets: torch.Tensor
    feature_vocab: list[str]
    item_names: dict[str, str] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_item_features(self) -> int:
        return len(self.feature_vocab)

    def history(self, user: int, split: str) -> list[int]:
        """The items a model may see before ranking `split`'s held-out item."""
        if split == "val":
            return list(self.train_seqs[user])
        if split == "test":
            val = int(self.val_items[user])
            return list(self.train_seqs[user]) + ([val] if val >= 0 else [])
        raise ValueError(f"split must be 'val' or 'test', not {split!r}")

    def histories(self, split: str) -> list[list[int]]:
        return [self.history(u, split) for u in range(self.n_users)]

    def eval_users(self, split: str) -> torch.Tensor:
        held = self.val_items if split == "val" else self.test_items
        return torch.nonzero(held >= 0).flatten()


# ---------------------------------------------------------------- CSV reading

def _read_table(path, required: Sequence[str]) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's line number; blank lines are not rows."""
    path = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(path, None, f"cannot open: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            while header is not None and not header:
                header = next(reader, None)
            if header is None:
                raise DataError(path, None, "empty file (no header)")
            header = [h.strip() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(path, reader.line_num, f"missing column(s): {', '.join(missing)}")
            rows, lines, width = [], [], len(header)
            for row in reader:
                if not row:
                    continue
                if len(row) != width:
                    raise DataError(path, reader.line_num, f"expected {width} fields, found {len(row)}")
                rows.append(row)
                lines.append(reader.line_num)
        except csv.Error as exc:
            raise DataError(path, reader.line_num, f"malformed CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(path, None, f"not UTF-8 text: {exc.reason}") from exc
    if not rows:
        raise DataError(path, None, "empty file (header but no rows)")
    return header, rows, lines


def _column(header, rows, name) -> list[str]:
    i = header.index(name)
    return [r[i].strip() for r in rows]


def _require_ids(values: list[str], path, lines, column: str) -> np.ndarray:
    arr = np.asarray(values, dtype=str)
    empty = np.flatnonzero(arr == "")
    if empty.size:
        raise DataError(path, lines[empty[0]], f"empty {column}")
    return arr


def _parse_timestamp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.timestamp()


def _parse_timestamps(values: list[str], path, lines) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except ValueError:
        out = np.empty(len(values))
        for i, text in enumerate(values):
            try:
                out[i] = _parse_timestamp(text)
            except ValueError:
                raise DataError(path, lines[i], f"timestamp {text!r} is neither a number nor ISO 8601") from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise DataError(path, lines[bad[0]], f"timestamp {values[bad[0]]!r} is not finite")
    return out


def _parse_optional_floats(values: list[str], path, lines, column: str, low: float, high: float) -> np.ndarray:
    """Floats with NaN for empty cells; anything unparsable or outside [low, high] is an error."""
    out = np.full(len(values), np.nan)
    for i, text in enumerate(values):
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise DataError(path, lines[i], f"{column} {text!r} is not a number") from None
        if not (low <= value <= high):
            raise DataError(path, lines[i], f"{column} {text!r} is outside [{low:g}, {high:g}]")
        out[i] = value
    return out


def _parse_events(values: list[str], path, lines) -> np.ndarray:
    arr = np.char.lower(np.asarray(values, dtype=str))
    known = np.isin(arr, list(EVENT_WEIGHTS) + [""])
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise DataError(path, lines[i], f"event {values[i]!r} is not one of {', '.join(EVENT_WEIGHTS)}")
    return arr


def load_csv(interactions, social=None, reviews=None, items=None, name: str | None = None) -> "Dataset":
    """Read the CSV contract (see DESIGN.md) into a Dataset; DataError on bad input."""
    header, rows, lines = _read_table(interactions, ("user_id", "item_id", "timestamp"))
    n = len(rows)
    users = _require_ids(_column(header, rows, "user_id"), interactions, lines, "user_id")
    item_col = _require_ids(_column(header, rows, "item_id"), interactions, lines, "item_id")
    stamps = _parse_timestamps(_column(header, rows, "timestamp"), interactions, lines)
    events = (_parse_events(_column(header, rows, "event"), interactions, lines)
              if "event" in header else np.full(n, "", dtype=str))
    ratings = (_parse_optional_floats(_column(header, rows, "rating"), interactions, lines, "rating", 1, 5)
               if "rating" in header else np.full(n, np.nan))
    weights = (_parse_optional_floats(_column(header, rows, "weight"), interactions, lines, "weight", 0, math.inf)
               if "weight" in header else np.full(n, np.nan))
    del rows

    social_pairs = _read_social(social) if social else (np.empty(0, str), np.empty(0, str))
    review_triples = _read_reviews(reviews) if reviews else (np.empty(0, str), np.empty(0, str), np.empty(0))
    item_rows = _read_items(items) if items else None
    label = name or _dataset_name(interactions)
    return _assemble(label, users, item_col, stamps, events, ratings, weights,
                     social_pairs, review_triples, item_rows)


def _dataset_name(path) -> str:
    parts = str(path).replace("\\", "/").rstrip("/").split("/")
    return parts[-2] if len(parts) >= 2 else parts[-1]


def _read_social(path):
    header, rows, lines = _read_table(path, ("user_id", "friend_id"))
    return (_require_ids(_column(header, rows, "user_id"), path, lines, "user_id"),
            _require_ids(_column(header, rows, "friend_id"), path, lines, "friend_id"))


def _read_reviews(path):
    header, rows, lines = _read_table(path, ("user_id", "item_id", "text"))
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    sentiment = np.array([analyzer.polarity_scores(t)["compound"] for t in _column(header, rows, "text")])
    return (_require_ids(_column(header, rows, "user_id"), path, lines, "user_id"),
            _require_ids(_column(header, rows, "item_id"), path, lines, "item_id"),
            sentiment)


def _read_items(path) -> dict[str, dict[str, str]]:
    header, rows, lines = _read_table(path, ("item_id",))
    ids = _require_ids(_column(header, rows, "item_id"), path, lines, "item_id")
    if "price" in header:
        # Validate here so the error can name the line.
        _parse_optional_floats(_column(header, rows, "price"), path, lines, "price", 0, math.inf)
    out: dict[str, dict[str, str]] = {}
    for item_id, row, line in zip(ids.tolist(), rows, lines):
        if item_id in out:
            raise DataError(path, line, f"duplicate item_id {item_id!r}")
        out[item_id] = {h: v.strip() for h, v in zip(header, row) if h != "item_id"}
    return out


# ---------------------------------------------------------------- records -> Dataset

def build_dataset(interactions: Iterable[Interaction], social: Iterable[tuple[str, str]] = (),
                  reviews: Iterable[tuple[str, str, float]] = (),
                  items: Mapping[str, Mapping[str, object]] | None = None,
                  name: str = "dataset") -> Dataset:
    """The same Dataset as `load_csv`, from parsed records (sentiment already computed)."""
    records = list(interactions)
    if not records:
        raise DataError(name, None, "no interactions")
    for i, r in enumerate(records):
        if r.event is not None and r.event not in EVENT_WEIGHTS:
            raise DataError(name, i + 1, f"event {r.event!r} is not one of {', '.join(EVENT_WEIGHTS)}")
        if r.rating is not None and not 1 <= r.rating <= 5:
            raise DataError(name, i + 1, f"rating {r.rating!r} is outside [1, 5]")
        if not math.isfinite(float(r.timestamp)):
            raise DataError(name, i + 1, f"timestamp {r.timestamp!r} is not finite")
    users = np.asarray([str(r.user_id) for r in records], dtype=str)
    item_col = np.asarray([str(r.item_id) for r in records], dtype=str)
    stamps = np.asarray([float(r.timestamp) for r in records])
    events = np.asarray([r.event or "" for r in records], dtype=str)
    ratings = np.asarray([np.nan if r.rating is None else float(r.rating) for r in records])
    weights = np.asarray([np.nan if r.weight is None else float(r.weight) for r in records])
    social = list(social)
    reviews = list(reviews)
    social_pairs = (np.asarray([str(a) for a, _ in social], dtype=str),
                    np.asarray([str(b) for _, b in social], dtype=str))
    review_triples = (np.asarray([str(r[0]) for r in reviews], dtype=str),
                      np.asarray([str(r[1]) for r in reviews], dtype=str),
                      np.clip(np.asarray([float(r[2]) for r in reviews]), -1.0, 1.0))
    item_rows = None if items is None else {str(k): {c: "" if v is None else str(v) for c, v in row.items()}
                                            for k, row in items.items()}
    return _assemble(name, users, item_col, stamps, events, ratings, weights,
                     social_pairs, review_triples, item_rows)


def build_from_arrays(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray,
                      events: np.ndarray | None = None, ratings: np.ndarray | None = None,
                      counts: np.ndarray | None = None, social: tuple[np.ndarray, np.ndarray] | None = None,
                      name: str = "dataset") -> Dataset:
    """The same Dataset from column arrays (ids as strings or ints): for synthetic and large data."""
    n = len(users)
    if n == 0:
        raise DataError(name, None, "no interactions")
    empty = np.empty(0, str)
    return _assemble(name, np.asarray(users).astype(str), np.asarray(items).astype(str),
                     np.asarray(timestamps, dtype=np.float64),
                     np.full(n, "", dtype=str) if events is None else np.asarray(events, dtype=str),
                     np.full(n, np.nan) if ratings is None else np.asarray(ratings, dtype=np.float64),
                     np.full(n, np.nan) if counts is None else np.asarray(counts, dtype=np.float64),
                     (empty, empty) if social is None else (np.asarray(social[0]).astype(str),
                                                            np.asarray(social[1]).astype(str)),
                     (empty, empty, np.empty(0)), None)


def interaction_weights(events: np.ndarray, ratings: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """purchase > cart > view; rating r scales by r / 3; a count (e.g. plays) by 1 + log(1 + count)."""
    base = np.ones(len(events))
    for event, weight in EVENT_WEIGHTS.items():
        base[events == event] = weight
    has_rating = ~np.isnan(ratings)
    base[has_rating] *= ratings[has_rating] / NEUTRAL_RATING
    has_count = ~np.isnan(counts)
    base[has_count] *= 1.0 + np.log1p(counts[has_count])
    return base


def _index(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq.tolist(), inverse.astype(np.int64)


def _assemble(name, users, item_col, stamps, events, ratings, weights,
              social_pairs, review_triples, item_rows) -> Dataset:
    user_ids, u = _index(users)
    catalogue = item_col if item_rows is None else np.concatenate([item_col, np.asarray(list(item_rows), dtype=str)])
    item_ids, i_all = _index(catalogue)
    i = i_all[: len(item_col)]
    n_users, n_items = len(user_ids), len(item_ids)
    user_index = {x: k for k, x in enumerate(user_ids)}
    item_index = {x: k for k, x in enumerate(item_ids)}
    stats = {"users": n_users, "items": n_items, "interactions": int(len(u))}

    w = interaction_weights(events, ratings, weights)
    w *= _review_factors(u, i, user_index, item_index, n_items, review_triples, stats)

    # Temporal order per user; lexsort is stable, so ties keep file order.
    order = np.lexsort((stamps, u))
    u, i, w = u[order], i[order], w[order]
    counts = np.bincount(u, minlength=n_users)
    ends = np.cumsum(counts)
    split_users = np.flatnonzero(counts >= 3)
    val_items = np.full(n_users, -1, dtype=np.int64)
    test_items = np.full(n_users, -1, dtype=np.int64)
    test_items[split_users] = i[ends[split_users] - 1]
    val_items[split_users] = i[ends[split_users] - 2]
    is_train = np.ones(len(u), dtype=bool)
    is_train[ends[split_users] - 1] = False
    is_train[ends[split_users] - 2] = False
    tu, ti, tw = u[is_train], i[is_train], w[is_train]
    train_counts = np.bincount(tu, minlength=n_users)
    train_seqs = [s.tolist() for s in np.split(ti, np.cumsum(train_counts)[:-1])]
    stats.update(train_interactions=int(len(tu)), split_users=int(len(split_users)),
                 train_only_users=int(n_users - len(split_users)),
                 items_without_interactions=int(n_items - len(np.unique(i))))

    social_edge_index = _social_edges(social_pairs, user_index, stats)
    feat_index, feat_offsets, vocab, names = _item_features(item_rows, item_ids)
    stats["item_features"] = len(vocab)
    fingerprint = hashlib.sha256("\x1f".join(["users", *user_ids, "items", *item_ids, "features", *vocab])
                                 .encode()).hexdigest()[:16]
    return Dataset(
        name=name, user_ids=user_ids, item_ids=item_ids, user_index=user_index, item_index=item_index,
        train_users=torch.from_numpy(tu), train_items=torch.from_numpy(ti),
        train_weights=torch.from_numpy(tw.astype(np.float32)), train_seqs=train_seqs,
        val_items=torch.from_numpy(val_items), test_items=torch.from_numpy(test_items),
        adjacency=normalized_adjacency(tu, ti, tw, n_users, n_items),
        social_edge_index=social_edge_index,
        item_feature_index=torch.from_numpy(feat_index), item_feature_offsets=torch.from_numpy(feat_offsets),
        feature_vocab=vocab, item_names=names, stats=stats, fingerprint=fingerprint,
    )


def _review_factors(u, i, user_index, item_index, n_items, review_triples, stats) -> np.ndarray:
    """Per interaction, 1 + strength * (mean sentiment of that user's reviews of that item)."""
    r_users, r_items, sentiment = review_triples
    factors = np.ones(len(u))
    stats.update(reviews=int(len(sentiment)), reviews_unmatched=0)
    if not len(sentiment):
        return factors
    ru = np.array([user_index.get(x, -1) for x in r_users.tolist()], dtype=np.int64)
    ri = np.array([item_index.get(x, -1) for x in r_items.tolist()], dtype=np.int64)
    known = (ru >= 0) & (ri >= 0)
    keys = ru[known] * n_items + ri[known]
    uniq, inverse = np.unique(keys, return_inverse=True)
    mean = np.bincount(inverse, weights=sentiment[known]) / np.bincount(inverse)
    edge_keys = u * n_items + i
    pos = np.clip(np.searchsorted(uniq, edge_keys), 0, max(len(uniq) - 1, 0))
    hit = uniq[pos] == edge_keys if len(uniq) else np.zeros(len(u), dtype=bool)
    factors[hit] = 1.0 + SENTIMENT_STRENGTH * mean[pos[hit]]
    # A review without a matching interaction (unknown user/item, or never interacted) is counted.
    matched = np.isin(uniq, edge_keys)
    stats["reviews_unmatched"] = int((~known).sum() + np.bincount(inverse)[~matched].sum())
    return factors


def _social_edges(social_pairs, user_index, stats) -> torch.Tensor:
    src_ids, dst_ids = social_pairs
    src = np.array([user_index.get(x, -1) for x in src_ids.tolist()], dtype=np.int64)
    dst = np.array([user_index.get(x, -1) for x in dst_ids.tolist()], dtype=np.int64)
    known = (src >= 0) & (dst >= 0)
    self_loop = known & (src == dst)
    keep = known & ~self_loop
    pairs = np.unique(np.stack([src[keep], dst[keep]]), axis=1) if keep.any() else np.empty((2, 0), np.int64)
    stats.update(social_rows=int(len(src)), social_edges=int(pairs.shape[1]),
                 social_unknown_users=int((~known).sum()), social_self_loops=int(self_loop.sum()),
                 social_duplicates=int(keep.sum() - pairs.shape[1]))
    return torch.from_numpy(pairs.astype(np.int64))


def _item_features(item_rows, item_ids) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, str]]:
    """EmbeddingBag inputs: `column=label` per categorical label, `price=bandK` per price band."""
    n_items = len(item_ids)
    if not item_rows:
        return np.empty(0, np.int64), np.zeros(n_items, np.int64), [], {}
    names = {k: (row.get("title") or row.get("name") or "") for k, row in item_rows.items()}
    names = {k: v for k, v in names.items() if v}
    prices = {k: float(row["price"]) for k, row in item_rows.items() if row.get("price") not in (None, "")}
    edges = np.quantile(np.fromiter(prices.values(), float), np.linspace(0, 1, PRICE_BANDS + 1)[1:-1]) \
        if prices else np.empty(0)
    labels_per_item: list[list[str]] = []
    for item_id in item_ids:
        row = item_rows.get(item_id) or {}
        labels = []
        for column, value in row.items():
            if column in TEXT_COLUMNS or column == "price" or not value:
                continue
            labels.extend(f"{column}={part.strip()}" for part in value.split("|") if part.strip())
        if item_id in prices:
            labels.append(f"price=band{int(np.searchsorted(edges, prices[item_id], side='right'))}")
        labels_per_item.append(sorted(set(labels)))
    vocab = sorted({label for labels in labels_per_item for label in labels})
    lookup = {label: k for k, label in enumerate(vocab)}
    flat = np.fromiter((lookup[x] for labels in labels_per_item for x in labels), np.int64)
    lengths = np.fromiter((len(labels) for labels in labels_per_item), np.int64, count=n_items)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return flat, offsets, vocab, names


def normalized_adjacency(users: np.ndarray, items: np.ndarray, weights: np.ndarray,
                         n_users: int, n_items: int) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the weighted bipartite graph (repeats summed), as sparse CSR."""
    n = n_users + n_items
    rows = np.concatenate([users, items + n_users])
    cols = np.concatenate([items + n_users, users])
    vals = np.concatenate([weights, weights]).astype(np.float64)
    keys = rows * n + cols
    uniq, inverse = np.unique(keys, return_inverse=True)
    vals = np.bincount(inverse, weights=vals)
    rows, cols = uniq // n, uniq % n
    degree = np.bincount(rows, weights=vals, minlength=n)
    inv_sqrt = np.zeros(n)
    inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
    vals = vals * inv_sqrt[rows] * inv_sqrt[cols]
    crow = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    with warnings.catch_warnings():  # "CSR support is in beta": CSR @ dense is all we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols),
                                       torch.from_numpy(vals.astype(np.float32)), size=(n, n),
                                       check_invariants=False)
