"""A/B of one TrainConfig setting on one tower's training batches at scale, runs interleaved.

    .venv/bin/python bench/tower_ab.py --tower sequence --setting lazy_item_updates=off,on [--batches 100 --reps 3]

Synthetic data as bench/ml_speed.py (100k users, 50k items, 2M interactions, 200k social edges by
default), then `train_tower` of the tower (branches joined by "+") for --batches batches per run
(validation skipped), once per value of the setting, alternating values, --reps rounds. Prints
wall and process CPU milliseconds per batch of every run and the ratio of each value to the first
one within a round. On a shared host the wall time moves with the neighbours (CPU steal of 10%+
was seen): the ratio within a round, and the process CPU time, which stolen time does not enter,
are the figures to compare. Never asserts.
"""
import argparse
import os
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench/ml_speed.py and the worker
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.ml.allocator import active_allocator, use_tcmalloc  # noqa: E402

use_tcmalloc()

import torch  # noqa: E402

from recommender.ml import train as training  # noqa: E402
from recommender.ml.synthetic import scale_dataset  # noqa: E402


def parse_setting(text: str) -> tuple[str, list]:
    """"field=v1,v2" -> (field, [typed values]) for a TrainConfig field."""
    name, _, values = text.partition("=")
    types = {f.name: type(f.default) for f in fields(training.TrainConfig)}
    if name not in types or not values:
        raise SystemExit(f"--setting: expected FIELD=V1,V2 with a TrainConfig field, not {text!r}")
    cast = types[name]
    if cast is bool:
        cast = lambda s: s.lower() in ("1", "true", "yes")  # noqa: E731
    return name, [cast(v) for v in values.split(",")]


def capped_batches(limit: int):
    """length_batches cut to its first `limit` batches (the same batches as a full epoch's start)."""
    full = training.length_batches

    def batches(*args, **kwargs):
        return full(*args, **kwargs)[:limit]
    return batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tower", default="sequence", help='branches, "+"-joined: graph, social, sequence')
    parser.add_argument("--setting", required=True, help="FIELD=V1,V2[,...] of TrainConfig")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument("--social", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    name, values = parse_setting(args.setting)
    branches = tuple(args.tower.split("+"))

    training.length_batches = capped_batches(args.batches)
    training.evaluate_model = lambda *a, **k: {"ndcg@10": 0.0, "recall@10": 0.0}  # timing the batches only
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, malloc: {active_allocator()}, "
          f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    dataset = scale_dataset(args.users, args.items, args.interactions, args.social, seed=args.seed)
    wall: dict = {v: [] for v in values}
    cpu: dict = {v: [] for v in values}
    for _ in range(args.reps):
        for value in values:
            config = training.TrainConfig(epochs=1, sequence_dropouts="", seed=args.seed, **{name: value})
            started, cpu_started = time.perf_counter(), time.process_time()
            training.train_tower(dataset, config, branches, torch.device("cpu"), lambda point: None)
            wall[value].append((time.perf_counter() - started) / args.batches * 1000)
            cpu[value].append((time.process_time() - cpu_started) / args.batches * 1000)
            print(f"{name}={value}: {wall[value][-1]:.1f} ms a batch wall, {cpu[value][-1]:.1f} ms CPU", flush=True)
    first = values[0]
    for value in values:
        wall_ratio = [w / f for w, f in zip(wall[value], wall[first])]
        cpu_ratio = [c / f for c, f in zip(cpu[value], cpu[first])]
        print(f"{name}={value}: median {statistics.median(wall[value]):.1f} ms wall "
              f"({statistics.median(cpu[value]):.1f} CPU) a batch; against {first} within each round: "
              f"wall {', '.join(f'{r:.2f}' for r in wall_ratio)}; CPU {', '.join(f'{r:.2f}' for r in cpu_ratio)}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
