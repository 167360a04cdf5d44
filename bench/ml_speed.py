"""Speed and memory of the hybrid at scale; prints measured figures against the targets.

    .venv/bin/python bench/ml_speed.py [--users 100000 --items 50000 --interactions 2000000 --social 200000]

Synthetic data (generated in-process, vectorized; Zipf-like item popularity), then:
1. one training epoch of the default hybrid (TrainConfig, epochs=1): one epoch of each tower
   training (graph, social, and the sequence tower once per sequence dropout: one after another,
   or a few at once in processes of their own: TrainConfig.parallel_towers, whose default "auto"
   runs one per torch thread on the CPU), each a training pass plus validation
   of --eval-users users, as train() reports it, from the first training's first batch until the
   last one ends. What comes before it is printed apart: building the first tower and, with
   trainings in parallel, starting the worker processes (a one-off cost per train(), not per epoch:
   each worker imports torch and receives the dataset; on a GPU, each creates its CUDA context).
   The score gate's fit is reported apart too,
2. peak RSS of this process (the data, the model and its training) and the peak of the summed
   proportional set size (PSS) of this process and its children during training, sampled every
   second: with trainings in parallel, the memory the whole job holds (shared pages counted once),
3. top-100 for every user (Recommender.recommend_many, seen items masked),
4. `step` + re-rank of 100 candidates for one customer, p50/p99 over --calls calls.
Targets: epoch <= 60 s, RSS <= 8 GB, top-100 for all <= 30 s, step + re-rank <= 5 ms.
The machine's load average is printed too: on a shared CPU the figures include waiting; so is
the CPU time the hypervisor gave to other guests during training ("steal"), which slows a
virtual machine's run without showing in its load.
Never asserts: it prints what it measured. Like the other training entry points it restarts
once under tcmalloc when that is installed (recommender/ml/allocator.py; GRAPHCART_MALLOC=system
keeps glibc's malloc, for comparison).

--omp-wait: how torch's idle OpenMP threads wait between parallel regions. "passive" (the
default here, as in recommender/ml/bench.py and the demo worker) sleeps at once: robust when
something else uses a core. "spin" is libgomp's own default, a short spin before sleeping: on a
quiet machine the sequence tower's thousands of small ops per batch run faster with it (one
sequence training at 100k users: 29.9 s spin, 39.7 s passive), on a busy one much slower (300
batches with one core taken by another process: 35.2 s spin, 18.0 s passive). Both measured
2026-11-27 on the AMD EPYC machine.
"""
import argparse
import os
import sys

# before torch is imported: libgomp reads the variable once
_WAIT = argparse.ArgumentParser(add_help=False)
_WAIT.add_argument("--omp-wait", choices=("passive", "spin"), default="passive")
if _WAIT.parse_known_args()[0].omp_wait == "passive":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
else:
    os.environ.pop("OMP_WAIT_POLICY", None)

import random  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.ml.allocator import active_allocator, use_tcmalloc  # noqa: E402

use_tcmalloc()  # before torch is loaded: the command restarts with tcmalloc when it is installed

import torch  # noqa: E402

from recommender.ml.baselines import peak_rss_mb  # noqa: E402
from recommender.ml.serve import Recommender  # noqa: E402
from recommender.ml.synthetic import scale_dataset  # noqa: E402
from recommender.ml.train import TrainConfig, train  # noqa: E402

TARGETS = {"epoch_s": 60.0, "peak_rss_mb": 8 * 1024.0, "top100_all_s": 30.0, "step_rerank_p99_ms": 5.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def time_step_rerank(rec: Recommender, calls: int, seed: int) -> list[float]:
    """Milliseconds per `step(state, item)` + `rerank(state, 100 candidates)` of one customer."""
    rng = random.Random(seed)
    item_ids, user_ids = rec.item_ids, rec.user_ids
    timings = []
    for _ in range(calls):
        state = rec.session(rng.choice(user_ids))
        clicked = rng.choice(item_ids)
        candidates = rng.sample(item_ids, 100)
        started = time.perf_counter()
        state = rec.step(state, clicked)
        rec.rerank(state, candidates)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def line(label: str, value: float, unit: str, target_key: str | None = None) -> str:
    text = f"{label:<44}{value:>12.2f} {unit}"
    if target_key:
        target = TARGETS[target_key]
        text += f"   target <= {target:g} {unit}: {'PASS' if value <= target else 'FAIL'}"
    return text


class TreeMemory:
    """Samples the proportional set size (PSS) of this process and its descendants every
    `interval` seconds and keeps the peak of their sum: the memory the whole job holds, with
    pages the processes share (the dataset's tensors, libraries) counted once, not once per
    process as each one's own peak RSS counts them. Not too often: reading smaps_rollup walks a
    process's page tables. Linux only (/proc/PID/smaps_rollup); 0 elsewhere."""

    def __init__(self, interval: float = 1.0):
        self.interval, self.peak_mb = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, sum(map(pss_mb, process_tree(os.getpid()))))
            if self._stop.wait(self.interval):
                return


def process_tree(root: int) -> list[int]:
    """root and every process descended from it (from /proc/*/stat's parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next((int(line.split()[1]) / 1024 for line in rollup if line.startswith("Pss:")), 0.0)
    except OSError:  # gone meanwhile, or not Linux
        return 0.0


def cpu_ticks() -> tuple[int, int]:
    """(all, steal) CPU ticks since boot from /proc/stat ((0, 0) where there is none)."""
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(values[:8]), (values[7] if len(values) > 7 else 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], parents=[_WAIT])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument("--social", type=int, default=200_000)
    parser.add_argument("--eval-users", type=int, default=2000, help="validation users scored after the epoch")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--parallel-towers", type=int, default=TrainConfig.parallel_towers,
                        help="TrainConfig.parallel_towers: tower trainings at once, each in its own process "
                             "(0, the default: auto, one per torch thread on the CPU)")
    parser.add_argument("--max-epoch-batches", type=int, default=TrainConfig.max_epoch_batches,
                        help="TrainConfig.max_epoch_batches: batches an epoch has at most (0 = no limit)")
    parser.add_argument("--dropout-masks", default="torch", choices=("torch", "pcg64"),
                        help="TrainConfig.dropout_masks: where the CPU draws dropout masks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset: libgomp spins briefly)')}, "
          f"malloc: {active_allocator()} (GRAPHCART_MALLOC=system: glibc's), "
          f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    started = time.perf_counter()
    dataset = scale_dataset(args.users, args.items, args.interactions, args.social, seed=args.seed)
    print(line("synthetic data generated", time.perf_counter() - started, "s"))
    print(f"  {args.users:,} users, {args.items:,} items, {args.interactions:,} interactions, "
          f"{dataset.stats['social_edges']:,} social edges", flush=True)

    config = TrainConfig(epochs=1, eval_users=args.eval_users, seed=args.seed, parallel_towers=args.parallel_towers,
                         max_epoch_batches=args.max_epoch_batches, dropout_masks=args.dropout_masks)
    started, ticks = time.perf_counter(), cpu_ticks()
    with TreeMemory() as memory:
        result = train(dataset, config, device=args.device)
    train_call = time.perf_counter() - started
    total, steal = (after - before for after, before in zip(cpu_ticks(), ticks))
    last_end = max(point["seconds"] for point in result.history)
    # when each tower training began its first batch, from train()'s start (its first point's
    # arrival less its own time); the earliest is after the worker processes started, if any
    first_start = min(point["seconds"] - point["tower_seconds"] for point in result.history)
    print(f"{len(result.history)} tower trainings (a point each at epochs=1), {result.tower_processes} at once "
          f"(parallel_towers={config.parallel_towers}), at most {config.max_epoch_batches or 'unlimited'} "
          "batches an epoch", flush=True)
    at_once = f", {result.tower_processes} trainings at once" if result.tower_processes > 1 else ""
    print(line(f"one training epoch, all towers ({result.device}{at_once})", last_end - first_start, "s", "epoch_s"))
    print("  (from the first tower training's first batch to the last one's end)")
    for point in result.history:
        print(line(f"  the {point['tower']} tower's own", point["tower_seconds"], "s"))
    print(line("before it: first tower built" + (", workers started" if at_once else ""), first_start, "s"))
    print(line("  so from train()'s start to the last tower's end", last_end, "s"))
    print(line("fitting the score gate (after the towers)", result.gate_seconds, "s"))
    print(line("  train() in all (+ full val and test ranking)", train_call, "s"))
    print(line("  CPU time stolen by the hypervisor meanwhile", 100 * steal / max(total, 1), "%"))
    print(line("peak RSS (process, after training)", peak_rss_mb(), "MB", "peak_rss_mb"), flush=True)
    print(line("peak PSS during training, this process + children", memory.peak_mb, "MB", "peak_rss_mb"))
    if result.worker_peak_rss_mb:  # each child's own peak RSS counts the pages it shares with the others
        print(line("  the tower-training processes' own peak RSS, summed", sum(result.worker_peak_rss_mb), "MB"))

    rec = Recommender.from_training(result, dataset)
    started = time.perf_counter()
    lists = rec.recommend_many(rec.user_ids, 100)
    top_all = time.perf_counter() - started
    print(line(f"top-100 for all {len(lists):,} users", top_all, "s", "top100_all_s"), flush=True)

    timings = time_step_rerank(rec, args.calls, args.seed)
    print(line(f"step + re-rank 100, p50 of {args.calls} calls", percentile(timings, 50), "ms"))
    print(line(f"step + re-rank 100, p99 of {args.calls} calls", percentile(timings, 99), "ms", "step_rerank_p99_ms"))
    print(line("peak RSS (process, end)", peak_rss_mb(), "MB", "peak_rss_mb"))
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
