"""The baselines the hybrid is measured against, each trained as well as the hybrid.

- pop: train interaction counts.
- itemknn: item-item cosine over the binary train user x item matrix (scipy.sparse), top
  neighbours kept per item; a user's score sums the neighbours of their history.
- bpr: matrix factorization trained with BPR and uniformly sampled negatives.
- sasrec: a causal transformer over the last items (learned positions, dropout), trained with
  full-softmax cross-entropy over the catalogue at every position of every train sequence.
- lightgcn / lstm: ml-core's `train()` with every branch but the graph / the sequence switched
  off: the hybrid's own code, not separate models (see `ABLATIONS`).

Every neural model stops early on validation NDCG@10 with patience and restores its best
weights. `run_baselines` returns test metrics, train seconds and peak RSS per model.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from .metrics import evaluate
from .train import TrainConfig, resolve_device, train
from .workers import peak_rss_mb

DEFAULT_NAMES = ("pop", "itemknn", "bpr", "sasrec", "lightgcn", "lstm")
# TrainConfig flags that turn the hybrid into its single-branch ablations.
ABLATIONS = {
    "lightgcn": {"use_graph": True, "use_social": False, "use_sequence": False},
    "lstm": {"use_graph": False, "use_social": False, "use_sequence": True},
}
Progress = Callable[[dict], None]


@dataclass
class FitOptions:
    epochs: int | None = None  # cap; None: the model's own default
    patience: int = 5          # evaluations without a better validation NDCG@10
    seed: int = 0
    device: torch.device = torch.device("cpu")
    progress: Progress | None = None


# ---------------------------------------------------------------- non-neural baselines

class Popularity:
    """Items ranked by their number of train interactions, the same list for everyone."""

    def fit(self, dataset, options: FitOptions) -> "Popularity":
        self.counts = torch.bincount(dataset.train_items, minlength=dataset.n_items).float()
        return self

    def scores(self, users: torch.Tensor, split: str) -> torch.Tensor:
        return self.counts.expand(len(users), -1)


def history_matrix(dataset, split: str) -> sp.csr_matrix:
    """Binary users x items matrix of each user's history for `split` (test adds the val item)."""
    users, items = dataset.train_users.numpy(), dataset.train_items.numpy()
    if split == "test":
        has_val = torch.nonzero(dataset.val_items >= 0).flatten().numpy()
        users = np.concatenate([users, has_val])
        items = np.concatenate([items, dataset.val_items.numpy()[has_val]])
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)),
                           shape=(dataset.n_users, dataset.n_items))
    matrix.data[:] = 1.0  # repeats count once
    return matrix


def top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row."""
    matrix = matrix.tocsr()
    rows, cols, vals = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        data, idx = matrix.data[start:end], matrix.indices[start:end]
        if len(data) > k:
            keep = np.argpartition(-data, k - 1)[:k]
            data, idx = data[keep], idx[keep]
        rows.append(np.full(len(data), row))
        cols.append(idx)
        vals.append(data)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=matrix.shape)


class ItemKNN:
    """Item-based collaborative filtering with cosine similarity between item columns."""

    def __init__(self, neighbours: int = 100):
        self.neighbours = neighbours

    def fit(self, dataset, options: FitOptions) -> "ItemKNN":
        train = history_matrix(dataset, "val")  # train interactions only
        norms = np.sqrt(np.asarray(train.sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        inv = sp.diags(1.0 / norms)
        cosine = (inv @ (train.T @ train) @ inv).tocsr()
        cosine.setdiag(0.0)
        cosine.eliminate_zeros()
        self.similarity = top_k_per_row(cosine, self.neighbours)
        self.history = {split: history_matrix(dataset, split) for split in ("val", "test")}
        return self

    def scores(self, users: torch.Tensor, split: str) -> torch.Tensor:
        rows = self.history[split][users.numpy()]
        return torch.from_numpy(np.asarray((rows @ self.similarity).todense(), dtype=np.float32))


# ---------------------------------------------------------------- neural baselines

class EarlyStopping:
    """Remembers the best weights by validation NDCG@10; says when patience ran out."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch, self.state, self.waited = patience, -math.inf, 0, None, 0

    def update(self, module: nn.Module, value: float, epoch: int) -> bool:
        if value > self.best:
            self.best, self.best_epoch, self.waited = value, epoch, 0
            self.state = copy.deepcopy(module.state_dict())
        else:
            self.waited += 1
        return self.waited >= self.patience


class NeuralBaseline:
    """Shared training loop: one epoch, validation, early stopping, best weights restored."""

    name = "neural"
    default_epochs = 100

    def build(self, dataset, options: FitOptions) -> nn.Module:
        raise NotImplementedError

    def train_epoch(self, generator: torch.Generator) -> float:
        raise NotImplementedError

    def fit(self, dataset, options: FitOptions):
        torch.manual_seed(options.seed)
        self.dataset, self.device = dataset, options.device
        self.module = self.build(dataset, options).to(options.device)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=self.lr, foreach=True)  # as train.py
        generator = torch.Generator().manual_seed(options.seed)
        epochs = options.epochs or self.default_epochs
        stopper = EarlyStopping(options.patience)
        started = time.perf_counter()
        for epoch in range(1, epochs + 1):
            self.module.train()
            loss = self.train_epoch(generator)
            self.module.eval()
            val = evaluate(self.scores, dataset, "val")
            if options.progress:
                options.progress({"model": self.name, "epoch": epoch, "epochs": epochs, "loss": loss,
                                  "val_ndcg@10": val["ndcg@10"],
                                  "seconds": round(time.perf_counter() - started, 1)})
            if stopper.update(self.module, val["ndcg@10"], epoch):
                break
        self.module.load_state_dict(stopper.state)
        self.module.eval()
        self.best_epoch, self.epochs_run = stopper.best_epoch, epoch
        return self


class BPRModule(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int):
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        self.items = nn.Embedding(n_items, dim)
        nn.init.normal_(self.users.weight, std=0.1)
        nn.init.normal_(self.items.weight, std=0.1)


class BPRMF(NeuralBaseline):
    """Matrix factorization, BPR loss, one uniformly sampled negative per train interaction."""

    name = "bpr"
    default_epochs = 200

    def __init__(self, dim: int = 64, lr: float = 1e-2, batch_size: int = 2048, l2: float = 1e-4):
        self.dim, self.lr, self.batch_size, self.l2 = dim, lr, batch_size, l2

    def build(self, dataset, options):
        self.users, self.items = dataset.train_users, dataset.train_items
        return BPRModule(dataset.n_users, dataset.n_items, self.dim)

    def train_epoch(self, generator):
        n, total = len(self.users), 0.0
        order = torch.randperm(n, generator=generator)
        negatives = torch.randint(self.dataset.n_items, (n,), generator=generator)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            u = self.module.users(self.users[idx].to(self.device))
            pos = self.module.items(self.items[idx].to(self.device))
            neg = self.module.items(negatives[idx].to(self.device))
            margin = (u * pos).sum(1) - (u * neg).sum(1)
            reg = self.l2 * (u.pow(2).sum() + pos.pow(2).sum() + neg.pow(2).sum()) / len(idx)
            loss = -F.logsigmoid(margin).mean() + reg
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(idx)
        return total / n

    def scores(self, users, split):
        return self.module.users(users.to(self.device)) @ self.module.items.weight.T


def left_padded(sequences: list[list[int]], max_len: int) -> torch.Tensor:
    """[N, max_len] of item index + 1 (0 = padding), the most recent item in the last column."""
    out = torch.zeros(len(sequences), max_len, dtype=torch.long)
    for row, seq in enumerate(sequences):
        tail = seq[-max_len:]
        if tail:
            out[row, max_len - len(tail):] = torch.tensor(tail) + 1
    return out


def trim_padding(batch: torch.Tensor) -> torch.Tensor:
    """Drop leading columns that are padding in every row (left-padded batches)."""
    filled = (batch != 0).any(0).nonzero()
    return batch[:, int(filled[0]):] if len(filled) else batch[:, -1:]


def length_buckets(lengths: torch.Tensor, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled batches of rows of similar length, so little compute goes to padding."""
    jitter = torch.rand(len(lengths), generator=generator)  # random order among equal lengths
    batches = torch.argsort(lengths.double() + jitter).split(batch_size)
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


class SASRecModule(nn.Module):
    """Self-attentive sequential recommendation (Kang & McAuley 2018), pre-LN blocks."""

    def __init__(self, n_items: int, dim: int, max_len: int, blocks: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        # position 0 = the most recent item, so trimming left padding keeps positions stable
        self.positions = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.items.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        """seqs [B, W] left-padded (0 = pad) -> hidden states [B, W, dim]."""
        width = seqs.shape[1]
        pad = seqs == 0
        distance = torch.arange(width - 1, -1, -1, device=seqs.device)
        x = self.items(seqs) * math.sqrt(self.items.embedding_dim) + self.positions(distance)
        x = self.dropout(x).masked_fill(pad.unsqueeze(-1), 0.0)
        # causal attention to earlier real items; a padding position attends only to itself
        causal = torch.ones(width, width, dtype=torch.bool, device=seqs.device).tril()
        eye = torch.eye(width, dtype=torch.bool, device=seqs.device)
        allowed = causal & ~pad.unsqueeze(1) | eye
        blocked = (~allowed).repeat_interleave(self.heads, dim=0)
        return self.norm(self.encoder(x, mask=blocked))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.items.weight[1:].T


class SASRec(NeuralBaseline):
    """SASRec trained with full-softmax cross-entropy over the catalogue at every position."""

    name = "sasrec"
    default_epochs = 200

    def __init__(self, dim: int = 64, max_len: int = 50, blocks: int = 2, heads: int = 2,
                 dropout: float = 0.5, lr: float = 1e-3, batch_size: int = 128):
        self.dim, self.max_len, self.blocks, self.heads = dim, max_len, blocks, heads
        self.dropout, self.lr, self.batch_size = dropout, lr, batch_size

    def build(self, dataset, options):
        seqs = [s for s in dataset.train_seqs if len(s) >= 2]
        self.inputs = left_padded([s[:-1] for s in seqs], self.max_len)
        self.targets = left_padded([s[1:] for s in seqs], self.max_len) - 1  # -1 = no target
        self.lengths = (self.inputs != 0).sum(1)
        self.history = {}
        return SASRecModule(dataset.n_items, self.dim, self.max_len, self.blocks, self.heads, self.dropout)

    def train_epoch(self, generator):
        total, count = 0.0, 0
        for idx in length_buckets(self.lengths, self.batch_size, generator):
            inputs = trim_padding(self.inputs[idx])
            targets = self.targets[idx][:, -inputs.shape[1]:].to(self.device)
            hidden = self.module(inputs.to(self.device))
            valid = targets >= 0
            loss = F.cross_entropy(self.module.logits(hidden[valid]), targets[valid])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item() * int(valid.sum())
            count += int(valid.sum())
        return total / max(count, 1)

    def scores(self, users, split):
        if split not in self.history:
            self.history[split] = left_padded(self.dataset.histories(split), self.max_len)
        seqs = trim_padding(self.history[split][users])
        hidden = self.module(seqs.to(self.device))[:, -1]
        return self.module.logits(hidden)


BASELINES = {"pop": Popularity, "itemknn": ItemKNN, "bpr": BPRMF, "sasrec": SASRec}


# ---------------------------------------------------------------- running them

def train_hybrid(dataset, name: str, options: FitOptions, config: TrainConfig | None = None):
    """The hybrid (name="hybrid") or one of its ablations, through ml-core's train().

    The ablations keep every hyper-parameter of `config` and only switch branches off.
    """
    config = replace(config or TrainConfig(), seed=options.seed, patience=options.patience,
                     **ABLATIONS.get(name, {}))
    if options.epochs:
        config = replace(config, epochs=options.epochs)
    progress = options.progress
    forward = (lambda point: progress({"model": name, **point})) if progress else None
    result = train(dataset, config, device=str(options.device), progress=forward)
    return result.test, result.validation, len(result.history), result.worker_peak_rss_mb


def run_model(dataset, name: str, epochs: int | None = None, seed: int = 0, device: str = "auto",
              progress: Progress | None = None, train_config: TrainConfig | None = None,
              patience: int = 5) -> dict:
    """Train one model ("hybrid", an ablation or a baseline): test metrics, epochs, seconds, peak RSS.

    train_seconds is the wall time of fitting (with its per-epoch validation) and evaluation.
    """
    options = FitOptions(epochs=epochs, patience=patience, seed=seed, device=resolve_device(device),
                         progress=progress)
    started = time.perf_counter()
    workers: list[float] = []  # peak RSS of the processes that trained towers (parallel_towers)
    if name == "hybrid" or name in ABLATIONS:
        test, validation, epochs_run, workers = train_hybrid(dataset, name, options, train_config)
    elif name in BASELINES:
        model = BASELINES[name]().fit(dataset, options)
        epochs_run = getattr(model, "epochs_run", None)  # None: not trained by epochs
        with torch.no_grad():
            validation = evaluate(model.scores, dataset, "val")
            test = evaluate(model.scores, dataset, "test")
    else:
        raise ValueError(f"unknown model {name!r}; choose from hybrid, {', '.join(DEFAULT_NAMES)}")
    seconds = time.perf_counter() - started
    result = {**test, "val_ndcg@10": validation["ndcg@10"], "epochs": epochs_run,
              "train_seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}
    if workers:
        result["worker_peak_rss_mb"] = [round(peak, 1) for peak in workers]
    return result


def run_baselines(dataset, names=DEFAULT_NAMES, epochs: int | None = None, seed: int = 0,
                  device: str = "auto", progress: Progress | None = None,
                  train_config: TrainConfig | None = None, patience: int = 5) -> dict[str, dict]:
    """name -> test metrics + epochs + train_seconds + peak_rss_mb, one model after another.

    In-process, so peak_rss_mb is this process's peak so far; the bench CLI runs each model in
    a fresh process for a per-model figure.
    """
    return {name: run_model(dataset, name, epochs, seed, device, progress, train_config, patience)
            for name in names}
