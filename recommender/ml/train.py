"""Training for HybridRecommender (and its ablations): seeded, early-stopped on validation NDCG@10.

train() trains the towers (train_tower: each from the seed, with its own optimizer, early
stopping and best weights; the tower holding the sequence branch once per `sequence_dropouts`
value, keeping the best on validation), one after another or a few at once in worker processes
(TrainConfig.parallel_towers), then fits the score gate that mixes them on the validation split
(fit_gate). The loss curves of the towers are not comparable with each other.

Within a tower, each epoch visits every user with train items once. A user contributes one window of at most
`max_len` consecutive train items (a random window for longer sequences), and every position of the
window is a target: the tower predicts item t from the start token and items < t (with the user's
graph and social vectors fused in, in a tower that has them). So a sequence branch learns from
every prefix and a graph branch from every train item, in one pass. A tower whose user vector is
the same at every position (the social tower) can score all of a user's targets with one vector,
computed (and dropped out) once per user: row_loss_fn, TrainConfig.per_user_training.

Loss (TrainConfig.loss):
- "ce": full-softmax cross-entropy over the whole catalogue. It won on validation, so "auto"
  uses it: ciaodvd, seed 0, default config, validation NDCG@10: ce 0.0612, sampled 0.0580,
  bpr 0.0380 (test 0.0530 / 0.0518 / 0.0295). Only ciaodvd was compared: the shared 2-core
  machine left no time for the larger datasets.
- "sampled": softmax over the target and `negatives` uniformly sampled items shared by the batch,
  which "auto" uses above `full_softmax_items` items, where a full softmax per target costs more
  than the epoch budget (50k items x 2M targets is ~40 TFLOP per epoch).
- "bpr": pairwise BPR with one uniform negative per target.
"""
from __future__ import annotations

import argparse
import copy
import functools
import multiprocessing
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from . import metrics
from .data import Dataset
from .hybrid import HybridRecommender, format_towers, parse_towers
from .model import GraphInputs, Tower
from .softmax import row_sampled_softmax_loss, sampled_softmax_loss

LOSSES = ("auto", "ce", "sampled", "bpr")
DROPOUT_MASKS = ("torch", "pcg64")
SOFTMAX_PRECISIONS = ("auto", "float32", "bfloat16")
SWITCHES = ("auto", "on", "off")  # per_user_training, lazy_item_updates


def _switch(setting: str, auto: bool) -> bool:
    """An "auto" / "on" / "off" setting as a bool; `auto` is what "auto" means here."""
    return auto if setting == "auto" else setting == "on"


@dataclass
class TrainConfig:
    dim: int = 64
    graph_layers: int = 2
    social_layers: int = 2
    social_heads: int = 2
    max_len: int = 50
    dropout: float = 0.5
    sequence_dropout: float = -1.0  # the sequence branch's own dropout; below 0: `dropout`
    # ","-separated sequence dropouts to choose from on validation: the tower holding the sequence
    # branch is trained once per value and the best kept (its value then becomes sequence_dropout).
    # Empty: train it once, with sequence_dropout. How much dropout an LSTM wants depends on the
    # data (the sequence tower's validation NDCG@10, seed 0: amazon-beauty 0.0583 at 0.5, 0.0609 at
    # 0.3; ciaodvd 0.0553 / 0.0486; lastfm 0.1037 / 0.0924), so validation picks, per training run.
    sequence_dropouts: str = "0.5,0.3"
    fused_norm: bool = True
    gate_length: bool = True
    graph_user: str = "prefix"
    use_graph: bool = True
    use_social: bool = True
    use_sequence: bool = True
    # One tower per ","-separated group, trained apart and mixed by the score gate (hybrid.py);
    # "+" joins branches into one jointly trained tower ("graph+social+sequence": the joint model).
    towers: str = "graph,social,sequence"
    gate_epochs: int = 20  # passes over the validation users to fit the score gate
    loss: str = "auto"
    full_softmax_items: int = 20000  # "auto" switches from "ce" to "sampled" above this many items
    negatives: int = 1024
    # The sampled softmax's two big products in bfloat16 ("auto": where the hardware multiplies
    # bfloat16 natively: a CUDA GPU that supports it, a CPU with AVX512-BF16 or AMX). Validation
    # NDCG@10 with the sampled loss forced on ciaodvd, seed 0: the same either way (docs/benchmarks.md).
    softmax_precision: str = "auto"
    # A tower whose user vector is the same at every position of a window (the social tower)
    # can score all of a user's targets with one vector, one dropout mask and one row of
    # logits per user ("on") instead of one per target ("off"). "auto": on with the sampled
    # loss, i.e. on catalogues too big for a full softmax, where the per-target work costs most
    # (the social tower's epoch at 100k users: 40.4 -> 11.4 s on the eighth session's CPU). With
    # the full softmax "off": "on" measured lastfm's hybrid at test NDCG@10 0.1296 against 0.1307
    # (validation 0.13522 against 0.13526), noise, but behind its graph tower's 0.1302
    # (docs/benchmarks.md, "Eighth session").
    per_user_training: str = "auto"
    # Where a tower's batch computes only the item rows it touches (no graph branch, sampled or
    # BPR loss: a few % of a big catalogue), Adam can update only those rows too ("on": torch's
    # SparseAdam, "lazy Adam": an untouched row's moments wait for its next batch) instead of
    # every row of the item table on every step ("off": the dense Adam of the other parameters).
    # "auto": on there, with weight_decay 0 (SparseAdam has none). At 100k users / 50k items the
    # dense update of the 50k x 64 table was ~15 ms of a ~75 ms sequence batch.
    lazy_item_updates: str = "auto"
    # Tower trainings run at once, each in a spawned process of its own with 1/n of this process's
    # torch threads (recommender/ml/tower_pool.py). Each training is seeded on its own, so the towers
    # are those of one-at-a-time training with that many threads. A sequence batch's thousands of
    # small ops gain little from a second thread: two sequence trainings side by side in
    # one-thread processes took 0.51-0.61x the time of one after the other with two threads
    # (100k users, 2 cores). 1: in this process, one after another. 0 ("auto"): one process per
    # torch thread, up to the number of trainings, on the CPU, where this process may start
    # children (not a Celery prefork worker's daemonic child) and the data has at least
    # PARALLEL_MIN_INTERACTIONS train interactions (below that the trainings take seconds and
    # starting the workers, ~3 s, would cost what it saves); else 1 (tower_processes). On a GPU
    # the workers' own CUDA contexts cost more than they saved (docs/benchmarks.md, "Tenth
    # session"). Each child holds its own copy of the model and its optimizer state (the dataset's
    # tensors are shared): 5.7-6.6 GB of PSS for two at 100k users against 2.4 GB in one process.
    parallel_towers: int = 0
    # Where the CPU draws dropout masks: "torch" (bernoulli_, one Mersenne Twister call per
    # element, single-threaded) or "pcg64" (numpy's PCG64, 16 bits an element; ~10x cheaper, ~8%
    # of an epoch at 100k users; recommender/ml/dropout.py). Not a quality choice, but a different
    # random stream: the tables were measured with "torch", and a full re-run with "pcg64" moved
    # every tower-based row by run-to-run noise, enough to flip lastfm's hybrid (0.13470) below its
    # graph ablation (0.13475) (docs/benchmarks.md, "Tenth session"). The default keeps the tables
    # reproducible. GPUs always use torch's dropout.
    dropout_masks: str = "torch"
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    # Graph edges propagated per epoch (forward): on a big graph, batches grow so that the
    # per-batch propagation (LightGCN hops + GAT layers) stays within it. 0 = no limit.
    propagation_budget: int = 100_000_000
    # Batches an epoch has at most (0 = no limit): on more users than max_epoch_batches x
    # batch_size the batch grows instead (100k users: 391 users a batch, not 782 batches of 128).
    # A bigger batch gives a second torch thread bigger products: at 100k users the sequence
    # tower's epoch with two threads went from 32.0 to 24.2 s; with one thread its time grows
    # with the batch, no gain (docs/benchmarks.md, "Eleventh session"). A 4x bigger batch on
    # amazon-beauty's sequence tower kept its test NDCG@10 (0.0442 against 0.0445). No benchmark
    # dataset reaches the cap (amazon-beauty: 175 batches of 128), so the tables are unchanged.
    max_epoch_batches: int = 256
    epochs: int = 60
    patience: int = 10
    eval_users: int = 20000  # validation users scored per epoch for early stopping (0 = all)
    seed: int = 0

    def __post_init__(self):
        for name, choices in (("loss", LOSSES), ("softmax_precision", SOFTMAX_PRECISIONS),
                              ("per_user_training", SWITCHES), ("lazy_item_updates", SWITCHES),
                              ("dropout_masks", DROPOUT_MASKS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        if self.lazy_item_updates == "on" and self.weight_decay:
            raise ValueError("lazy_item_updates 'on' needs weight_decay 0 (torch's SparseAdam has no weight decay)")
        for name in ("dim", "max_len", "batch_size", "epochs", "negatives", "full_softmax_items"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name, zero in (("parallel_towers", "auto"), ("max_epoch_batches", "no limit"), ("propagation_budget", "no limit")):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 ({zero}) or more")
        if not (0.0 <= self.dropout < 1.0) or self.sequence_dropout >= 1.0:
            raise ValueError("dropout must be in [0, 1) and sequence_dropout below 1 (below 0: the same as dropout)")
        try:
            choices = self.sequence_dropout_choices()
        except ValueError:
            raise ValueError(f"sequence_dropouts must be ','-separated numbers, not {self.sequence_dropouts!r}") from None
        if any(not 0.0 <= v < 1.0 for v in choices):
            raise ValueError("each of sequence_dropouts must be in [0, 1)")
        if not (self.use_graph or self.use_social or self.use_sequence):
            raise ValueError("at least one of use_graph, use_social, use_sequence must be true")
        if not self.tower_branches():
            raise ValueError(f"towers {self.towers!r} holds none of the branches switched on")

    def tower_branches(self) -> list[tuple[str, ...]]:
        """The towers to build: `towers` with the branches switched off left out."""
        return parse_towers(self.towers, {"graph": self.use_graph, "social": self.use_social,
                                          "sequence": self.use_sequence})

    def sequence_dropout_choices(self) -> list[float]:
        return [float(v) for v in self.sequence_dropouts.split(",") if v.strip()]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def resolved_loss(self, n_items: int) -> str:
        if self.loss != "auto":
            return self.loss
        return "ce" if n_items <= self.full_softmax_items else "sampled"

    def trains_per_user(self, n_items: int) -> bool:
        """Whether a position-independent tower trains one vector per user (per_user_training)."""
        return _switch(self.per_user_training, self.resolved_loss(n_items) == "sampled")

    def batch_item_rows(self, n_items: int, branches: tuple[str, ...]) -> bool:
        """Whether a tower with these branches computes only the item rows each batch touches:
        without the graph branch an item's vector is its own row, and only a sampled (or BPR)
        loss leaves most rows out of a batch."""
        return "graph" not in branches and self.resolved_loss(n_items) in ("sampled", "bpr")

    def lazy_item_rows(self, n_items: int, branches: tuple[str, ...]) -> bool:
        """Whether such a tower's Adam updates only its batches' item rows (lazy_item_updates)."""
        return self.batch_item_rows(n_items, branches) and _switch(self.lazy_item_updates, not self.weight_decay)

    def softmax_matmul_dtype(self, device: torch.device) -> torch.dtype:
        """The dtype of the sampled softmax's big products on `device`."""
        precision = self.softmax_precision
        if precision == "auto":
            precision = "bfloat16" if native_bfloat16(device) else "float32"
        return getattr(torch, precision)

    def tower_kwargs(self) -> dict:
        keys = ("dim", "graph_layers", "social_layers", "social_heads", "max_len", "dropout", "fused_norm", "gate_length",
                "graph_user", "dropout_masks")
        kwargs = {k: getattr(self, k) for k in keys}
        kwargs["sequence_dropout"] = self.sequence_dropout if self.sequence_dropout >= 0 else None
        return kwargs


@dataclass
class TrainResult:
    model: HybridRecommender
    config: TrainConfig
    history: list[dict]
    validation: dict
    test: dict
    train_seconds: float
    device: str
    gate_seconds: float = 0.0  # of train_seconds, fitting the score gate
    worker_peak_rss_mb: list[float] = field(default_factory=list)  # each tower-training process's (parallel_towers)
    tower_processes: int = 1  # tower trainings run at once (tower_processes)


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


def native_bfloat16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices in hardware (elsewhere bfloat16 is emulated: slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_model(dataset: Dataset, config: TrainConfig) -> HybridRecommender:
    """The untrained model for `config` as it stands (train() may leave out a social-only tower)."""
    model = HybridRecommender.build(dataset.n_users, dataset.n_items, dataset.n_item_features,
                                    config.tower_branches(), **config.tower_kwargs())
    return model.attach(GraphInputs.from_dataset(dataset))


def build_tower(dataset: Dataset, config: TrainConfig, branches: tuple[str, ...]) -> Tower:
    tower = Tower.for_branches(dataset.n_users, dataset.n_items, dataset.n_item_features, branches,
                               **config.tower_kwargs())
    return tower.attach(GraphInputs.from_dataset(dataset))


def trained_towers(dataset: Dataset, config: TrainConfig) -> list[tuple[str, ...]]:
    """config's towers, less a social-only tower when the data has no social graph to learn from."""
    towers = config.tower_branches()
    if not dataset.social_edge_index.numel() and len(towers) > 1:
        towers = [t for t in towers if t != ("social",)]
    return towers


def sample_windows(seqs: list[list[int]], users: list[int], max_len: int, start: int, pad: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs [B, L], targets [B, L] (pad where none) and input lengths for a batch of users."""
    inputs, targets = [], []
    for u in users:
        seq = seqs[u]
        end = len(seq)
        if end > max_len:  # a random window of max_len targets
            end = max_len + int(torch.randint(end - max_len + 1, (1,), generator=generator))
        begin = end - min(end, max_len)
        targets.append(seq[begin:end])
        inputs.append(([start] if begin == 0 else [seq[begin - 1]]) + seq[begin:end - 1])
    L = max(len(t) for t in targets)
    lengths = torch.tensor([len(t) for t in targets])
    pad_row = lambda row: row + [pad] * (L - len(row))  # noqa: E731
    return (torch.tensor([pad_row(r) for r in inputs]), torch.tensor([pad_row(t) for t in targets]), lengths)


def propagation_cost(dataset: Dataset, config: TrainConfig, branches: tuple[str, ...]) -> int:
    """Work of one forward pass of a tower with these branches over its graphs, in edge visits
    (one edge visit ~ dim multiply-adds): LightGCN visits each adjacency entry once per hop; a GAT
    layer visits each social edge once per head and also projects every user's vector per head
    (dim x dim multiply-adds = dim edge visits a user). That projection is what a social tower's
    batch costs at 100k users (counting edges alone gave 125 batches and a 158 s epoch there).
    A social graph without edges is not counted."""
    cost = dataset.adjacency._nnz() * config.graph_layers if "graph" in branches else 0
    edges = dataset.social_edge_index.shape[1]
    if "social" in branches and edges:
        cost += (edges + dataset.n_users * config.dim) * config.social_layers * config.social_heads
    return cost


def epoch_batch_cap(dataset: Dataset, config: TrainConfig, branches: tuple[str, ...]) -> int:
    """The most batches an epoch of this tower may have (0 = no limit): the propagation budget's
    (a big graph makes each batch's propagation costly) and max_epoch_batches, whichever is lower."""
    cost = propagation_cost(dataset, config, branches)
    caps = [max(1, config.propagation_budget // cost) if config.propagation_budget and cost else 0,
            config.max_epoch_batches]
    return min((cap for cap in caps if cap), default=0)


def length_batches(users: list[int], seqs: list[list[int]], config: TrainConfig,
                   generator: torch.Generator, max_batches: int = 0) -> list[list[int]]:
    """Shuffled batches of users with similar sequence lengths (little padding for the LSTM)."""
    order = [users[k] for k in torch.randperm(len(users), generator=generator).tolist()]
    size = config.batch_size
    if max_batches:
        size = max(size, -(-len(users) // max_batches))
    chunk = size * 32
    batches = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda u: min(len(seqs[u]), config.max_len))
        batches.extend(part[b:b + size] for b in range(0, len(part), size))
    return [batches[k] for k in torch.randperm(len(batches), generator=generator).tolist()]


def sample_negatives(config: TrainConfig, n_items: int, n_targets: int, generator: torch.Generator) -> Tensor | None:
    """The loss's negatives over the whole catalogue: shared by the batch ("sampled"), one per
    target ("bpr"), none for the full softmax."""
    loss = config.resolved_loss(n_items)
    if loss == "sampled":
        return torch.randint(n_items, (min(config.negatives, n_items),), generator=generator)
    if loss == "bpr":
        return torch.randint(n_items, (n_targets,), generator=generator)
    return None


def loss_fn(config: TrainConfig, user_vecs: Tensor, items: Tensor, targets: Tensor, negatives: Tensor | None,
            n_items: int | None = None) -> Tensor:
    """user_vecs [N, d], items [n, d] (the catalogue, or the batch's items of it), targets [N] and
    negatives (sample_negatives) index items. n_items: the catalogue's size (default n)."""
    loss = config.resolved_loss(n_items or items.shape[0])
    if loss == "ce":
        return F.cross_entropy(user_vecs @ items.T, targets)
    negatives = negatives.to(items.device)
    if loss == "sampled":
        return sampled_softmax_loss(user_vecs, items, targets, negatives, config.softmax_matmul_dtype(items.device))
    diff = (user_vecs * (items[targets] - items[negatives])).sum(-1)
    return -F.logsigmoid(diff).mean()


def row_loss_fn(config: TrainConfig, row_vecs: Tensor, items: Tensor, rows: Tensor, targets: Tensor,
                negatives: Tensor | None, n_items: int | None = None) -> Tensor:
    """loss_fn for a tower whose user vector is one per row (Tower.position_independent):
    target n is scored with row_vecs[rows[n]]. The same loss as loss_fn(row_vecs[rows], ...)
    (with "sampled", a negative that is any target of the row is excluded, not only the
    target's own), for a per-row share of its softmax work."""
    loss = config.resolved_loss(n_items or items.shape[0])
    if loss == "ce":
        logits = row_vecs @ items.T  # [B, n]: each user's row once, not once per target
        return (torch.logsumexp(logits, 1)[rows] - logits[rows, targets]).mean()
    negatives = negatives.to(items.device)
    if loss == "sampled":
        return row_sampled_softmax_loss(row_vecs, items, rows, targets, negatives,
                                        config.softmax_matmul_dtype(items.device))
    return loss_fn(config, row_vecs[rows], items, targets, negatives, n_items)


def batch_items(n_items: int, inputs: Tensor, targets: Tensor, negatives: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The items a batch touches, sorted, and inputs, targets and negatives as positions in them
    (the start token n_items and padding n_items + 1 become one and two past the end)."""
    tokens = torch.tensor([n_items, n_items + 1], device=inputs.device)
    ids, where = torch.unique(torch.cat([tokens, inputs.flatten(), targets.flatten(), negatives.to(inputs.device)]),
                              return_inverse=True)  # the tokens sort last
    a, b = 2 + inputs.numel(), 2 + inputs.numel() + targets.numel()
    return ids[:-2], where[2:a].view_as(inputs), where[a:b].view_as(targets), where[b:]


def make_score_fn(model: HybridRecommender, dataset: Dataset, device: torch.device):
    def score(users: torch.Tensor, split: str) -> torch.Tensor:
        histories = [dataset.history(int(u), split) for u in users]
        return model.scores(users.to(device), histories)
    return score


def evaluate_model(model, dataset: Dataset, split: str, device: torch.device, users: torch.Tensor | None = None) -> dict:
    model.eval()
    with torch.no_grad():
        return metrics.evaluate(make_score_fn(model, dataset, device), dataset, split, users=users, batch_size=512)


class _Optimizers:
    """Several optimizers stepped as one (the dense parameters' Adam and the item table's SparseAdam)."""

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()


def tower_optimizer(model: Tower, config: TrainConfig, lazy_item_rows: bool):
    """Adam over the tower's parameters; with lazy_item_rows the item table's gradient is sparse
    (the batch's rows) and SparseAdam updates only those rows (TrainConfig.lazy_item_updates)."""
    # foreach: one multi-tensor update instead of a Python loop over parameters (torch's default
    # only on CUDA); on the CPU the same numbers, checked bit for bit. The dense update of the
    # item table itself stays memory-bound (docs/benchmarks.md, "Sixth session").
    model.sparse_item_rows = lazy_item_rows
    if not lazy_item_rows:
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    table = model.item_embedding.weight
    dense = [p for p in model.parameters() if p is not table]
    return _Optimizers(torch.optim.Adam(dense, lr=config.lr, foreach=True),
                       torch.optim.SparseAdam([table], lr=config.lr))


def validation_users(dataset: Dataset, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    users = dataset.eval_users("val")
    if config.eval_users and len(users) > config.eval_users:
        users = users[torch.randperm(len(users), generator=generator)[: config.eval_users]]
    return users


def train_tower(dataset: Dataset, config: TrainConfig, branches: tuple[str, ...], dev: torch.device,
                report: Callable[[dict], None], label: str | None = None) -> tuple[Tower, list[dict]]:
    """Train one tower from its seed: its own optimizer, early stopping and best weights.

    Seeded the same whichever towers come before it, so the graph tower of the hybrid is exactly
    the `lightgcn` ablation and its sequence tower exactly the `lstm` one.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = build_tower(dataset, config, branches).to(dev)
    # Without the graph branch an item's vector is its own row (embedding + content), and with
    # sampled negatives a batch touches a fraction of the catalogue: compute only those rows (the
    # same numbers as the whole table, up to float summation order; at 50k items a few % of the
    # sequence epoch: no catalogue-wide table to build and back-propagate per batch).
    by_batch_items = config.batch_item_rows(dataset.n_items, branches)
    # A tower whose user vector does not change along the window (the social tower) may compute
    # it, its dropout and its softmax once per user instead of once per target (up to max_len
    # times less work): TrainConfig.per_user_training.
    per_row = model.position_independent and config.trains_per_user(dataset.n_items)
    optimizer = tower_optimizer(model, config, config.lazy_item_rows(dataset.n_items, branches))
    active_users = [u for u, s in enumerate(dataset.train_seqs) if s]
    val_users = validation_users(dataset, config, generator)
    start_token, pad = dataset.n_items, dataset.n_items + 1
    max_batches = epoch_batch_cap(dataset, config, branches)

    history, best, best_state, stale = [], -1.0, None, 0
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        total, batches = 0.0, 0
        for users in length_batches(active_users, dataset.train_seqs, config, generator, max_batches):
            inputs, targets, lengths = sample_windows(dataset.train_seqs, users, config.max_len,
                                                      start_token, pad, generator)
            valid = targets != pad
            negatives = sample_negatives(config, dataset.n_items, int(valid.sum()), generator)
            inputs, targets, lengths, valid = inputs.to(dev), targets.to(dev), lengths.to(dev), valid.to(dev)
            item_ids = None
            if by_batch_items:
                item_ids, inputs, targets, negatives = batch_items(dataset.n_items, inputs, targets, negatives)
            prop = model.propagate(item_ids=item_ids)
            user_ids = torch.tensor(users, device=dev)
            if per_row:
                rows, positions = valid.nonzero(as_tuple=True)
                loss = row_loss_fn(config, model.training_row_vectors(user_ids, prop), prop.items, rows,
                                   targets[rows, positions], negatives, dataset.n_items)
            else:
                user_vecs = model.training_user_vectors(user_ids, inputs, lengths, prop, targets)
                loss = loss_fn(config, user_vecs[valid], prop.items, targets[valid], negatives, dataset.n_items)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        val = evaluate_model(model, dataset, "val", dev, users=val_users)
        point = {"tower": label or "+".join(branches), "epoch": epoch, "loss": total / max(batches, 1),
                 "val_ndcg@10": val["ndcg@10"], "val_recall@10": val["recall@10"],
                 "seconds": time.perf_counter() - started}
        history.append(point)
        report(point)
        if val["ndcg@10"] > best:
            best, stale = val["ndcg@10"], 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.sparse_item_rows = False  # a training detail: the trained tower's gradients are dense again
    return model.eval(), history


def fit_gate(model: HybridRecommender, dataset: Dataset, config: TrainConfig, dev: torch.device) -> float:
    """Fit the score gate (and its temperature) on the validation split, towers frozen; returns the last loss.

    Each validation user's held-out item is the target of the gate's loss (config's loss; with full
    cross-entropy the user's train items are left out of the softmax, as they are of the ranking).
    A handful of parameters fitted on held-out data: the towers never saw these targets.
    """
    generator = torch.Generator().manual_seed(config.seed)
    model.eval()  # frozen towers, cached propagation; the gate still gets gradients
    users = validation_users(dataset, config, generator)
    targets = dataset.val_items[users].long()
    with torch.no_grad():
        histories = [dataset.history(int(u), "val") for u in users]
        vectors = [torch.cat([t.user_vectors(users[s:s + 1024].to(dev), histories[s:s + 1024])["user"]
                              for s in range(0, len(users), 1024)]) for t in model.towers]
        items = model.item_matrix()
    lengths = torch.tensor([min(len(h), config.max_len) for h in histories], device=dev)
    friends = model.friend_counts()[users.to(dev)]
    full = config.resolved_loss(dataset.n_items) == "ce"
    seen = metrics.SeenItems(dataset.n_users, dataset.train_users, dataset.train_items)
    optimizer = torch.optim.Adam([*model.gate.parameters(), model.log_temperature], lr=0.05)
    loss = torch.zeros(())
    for _ in range(config.gate_epochs):
        for batch in torch.randperm(len(users), generator=generator).split(config.batch_size * 4):
            user, _, _ = model.mix([v[batch] for v in vectors], lengths[batch], friends[batch])
            if full:
                logits = user @ items.T
                rows, cols = seen.rows_cols(users[batch])
                keep = cols != targets[batch][rows]  # the held-out item is never masked
                logits = logits.index_put((rows[keep].to(dev), cols[keep].to(dev)),
                                          torch.tensor(float("-inf"), device=dev))
                loss = F.cross_entropy(logits, targets[batch].to(dev))
            else:
                negatives = sample_negatives(config, dataset.n_items, len(batch), generator)
                loss = loss_fn(config, user, items, targets[batch].to(dev), negatives)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return float(loss.detach())


def tower_runs(config: TrainConfig, branches: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], float | None]]:
    """(tower branches, sequence dropout or None) for every tower training that train() runs: one
    per tower, and one per sequence_dropouts value for the tower holding the sequence branch."""
    choices = config.sequence_dropout_choices()
    return [(group, value) for group in branches for value in (choices if "sequence" in group and choices else [None])]


def _run_label(group: tuple[str, ...], dropout: float | None) -> str:
    return "+".join(group) + (f" (dropout {dropout:g})" if dropout is not None else "")


# parallel_towers "auto" (0) trains in one process below this many train interactions.
PARALLEL_MIN_INTERACTIONS = 20_000


def tower_processes(dataset: Dataset, config: TrainConfig, trainings: int, dev: torch.device) -> int:
    """How many of train()'s tower trainings run at once (TrainConfig.parallel_towers)."""
    if config.parallel_towers:
        return max(1, min(config.parallel_towers, trainings))
    if (dev.type != "cpu" or multiprocessing.current_process().daemon
            or len(dataset.train_users) < PARALLEL_MIN_INTERACTIONS):
        return 1
    return max(1, min(torch.get_num_threads(), trainings))


def train(dataset: Dataset, config: TrainConfig | None = None, device: str = "auto",
          progress: Callable[[dict], None] | None = None) -> TrainResult:
    """Train every tower (one after another, or a few at once: tower_processes), then fit the gate
    that mixes them.

    Progress points count the epochs done over all tower trainings (a tower that stops early
    counts the rest of its share as done), so `epoch / epochs` only grows. Each point keeps
    its tower's own `tower_seconds`; `seconds` counts from the start of train().
    """
    config = config or TrainConfig()
    dev = resolve_device(device)
    branches = trained_towers(dataset, config)
    config = replace(config, towers=format_towers(branches))
    runs = tower_runs(config, branches)
    started = time.perf_counter()
    history: list[dict] = []
    done = [0] * len(runs)  # epochs done per tower training

    def report_for(k: int) -> Callable[[dict], None]:
        def report(point: dict) -> None:
            done[k] = point["epoch"]
            point = {**point, "tower_seconds": point["seconds"], "epoch": sum(done),
                     "epochs": config.epochs * len(runs), "seconds": time.perf_counter() - started}
            history.append(point)
            if progress:
                progress(point)
        return report

    jobs = [(config if dropout is None else replace(config, sequence_dropout=dropout), group, _run_label(group, dropout))
            for group, dropout in runs]
    worker_peaks: list[float] = []
    processes = tower_processes(dataset, config, len(jobs), dev)
    if processes > 1:
        from .tower_pool import train_in_pool  # here: tower_pool imports this module

        trained, worker_peaks = train_in_pool(dataset, jobs, dev, processes, report_for,
                                              finished=lambda k: done.__setitem__(k, config.epochs))
    else:
        trained = []
        for k, (run_config, group, label) in enumerate(jobs):
            trained.append(train_tower(dataset, run_config, group, dev, report_for(k), label))
            done[k] = config.epochs  # a tower that stopped early: the rest of its share is done
    best: dict[tuple[str, ...], tuple[float, Tower, float | None]] = {}  # per tower: validation, tower, dropout
    for (group, dropout), (tower, tower_history) in zip(runs, trained):
        validation = max((p["val_ndcg@10"] for p in tower_history), default=-1.0)
        if group not in best or validation > best[group][0]:  # ties keep the earlier value
            best[group] = (validation, tower, dropout)
    towers = [best[group][1] for group in branches]
    chosen = [best[group][2] for group in branches if best[group][2] is not None]
    if chosen:
        config = replace(config, sequence_dropout=chosen[0])
    model = HybridRecommender(towers, branches).to(dev)
    gate_started = time.perf_counter()
    if not model.single:
        fit_gate(model, dataset, config, dev)
    gate_seconds = time.perf_counter() - gate_started
    train_seconds = time.perf_counter() - started
    validation = evaluate_model(model, dataset, "val", dev)
    test = evaluate_model(model, dataset, "test", dev)
    return TrainResult(model, config, history, validation, test, train_seconds, str(dev), gate_seconds, worker_peaks,
                       processes)


class TqdmProgress:
    """A progress callback that drives a tqdm bar (for command lines); close() when training ends."""

    def __init__(self, epochs: int, **tqdm_kwargs):
        from tqdm import tqdm

        self.bar = tqdm(total=epochs, unit="epoch", **tqdm_kwargs)

    def __call__(self, point: dict) -> None:
        # epochs count over all towers, and a tower that stops early skips the rest of its share
        self.bar.total = point.get("epochs", self.bar.total)
        self.bar.update(point["epoch"] - self.bar.n)
        self.bar.set_postfix(tower=point.get("tower", "-"), loss=f"{point['loss']:.4f}",
                             val_ndcg10=f"{point['val_ndcg@10']:.4f}")

    def close(self) -> None:
        self.bar.close()


def config_arguments(parser: argparse.ArgumentParser) -> None:
    """One --option per TrainConfig field (bench.py and this CLI share it)."""
    for f in fields(TrainConfig):
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=lambda s: s.lower() in ("1", "true", "yes"),
                                default=default, metavar="BOOL")
        else:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=default)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def main(argv=None) -> int:
    from .data import DataError, load_csv
    from .serve import Recommender

    parser = argparse.ArgumentParser(prog="python -m recommender.ml.train",
                                     description="Train the hybrid recommender on CSV files and save a checkpoint.")
    parser.add_argument("--interactions", required=True)
    parser.add_argument("--social")
    parser.add_argument("--reviews")
    parser.add_argument("--items")
    parser.add_argument("--out", help="checkpoint path (.pt)")
    parser.add_argument("--device", default="auto")
    config_arguments(parser)
    args = parser.parse_args(argv)
    try:
        dataset = load_csv(args.interactions, args.social, args.reviews, args.items)
        config = config_from_args(args)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress = TqdmProgress(config.epochs, file=sys.stderr)
    try:
        result = train(dataset, config, args.device, progress=progress)
    finally:
        progress.close()
    print(f"device={result.device} epochs={len(result.history)} seconds={result.train_seconds:.1f}")
    for split, values in (("validation", result.validation), ("test", result.test)):
        print(split, " ".join(f"{k}={v:.4f}" for k, v in values.items() if k != "users"))
    if args.out:
        Recommender.from_training(result, dataset).save(args.out)
        print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    from .allocator import use_tcmalloc

    use_tcmalloc()  # here, not in main(): tests call main() inside their own process
    sys.exit(main())
