"""The offline benchmark CLI of DESIGN.md: every model on one dataset, one protocol, one table.

    python -m recommender.ml.bench --interactions I.csv [--social S.csv] [--reviews R.csv]
        [--items ITEMS.csv] [--models hybrid,sasrec,lightgcn,lstm,bpr,itemknn,pop]
        [--epochs N] [--seed S] [--out result.json] [hybrid options: --dim 64 --lr 0.001 ...]

Each model runs in a fresh process (multiprocessing "spawn") that loads the files and trains
that one model, so `peak_rss_mb` is that model's own peak (`--in-process` trades this for
speed: the figure is then the whole run's peak so far). `--jobs N` trains up to N models at
once, each in its own process with cpu_count // N threads: on 2 cores `--jobs 2` gives each model
one thread, as the README's tables were measured (OMP_NUM_THREADS=1), so the metrics are the same
and a re-run of a dataset takes about half the time; a model's `train_seconds` then counts the
time it shared the CPU with the others. Bad input exits with status 2 and
"FILE:LINE: reason" on stderr. The JSON is rewritten after every model, so a stopped run keeps
what it measured.
"""
from __future__ import annotations

import os

# On a shared CPU, OpenMP threads that spin while waiting for a descheduled sibling slow torch
# down several times over; passive waiting avoids it. Must be set before torch is imported, and
# the spawned model processes inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import fields  # noqa: E402

import torch  # noqa: E402

from .allocator import active_allocator, use_tcmalloc  # noqa: E402
from .baselines import ABLATIONS, BASELINES, DEFAULT_NAMES, resolve_device, run_model  # noqa: E402
from .data import load_csv  # noqa: E402
from .train import TrainConfig, config_arguments, native_bfloat16  # noqa: E402
from .workers import run_jobs  # noqa: E402

ALL_MODELS = ("hybrid",) + DEFAULT_NAMES
COLUMNS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr", "coverage@10")
PROTOCOL = ("leave-last-out per user in time order (ties keep file order): last interaction = test, "
            "second last = validation, users with < 3 interactions train only; models trained on train "
            "only; full ranking over all items with the user's seen items masked (train for validation, "
            "train + validation item for test; the held-out item never masked); ties count against the "
            "held-out item; metrics are means over test users; neural models stop early on validation "
            "NDCG@10 and restore their best weights")
RSS_ISOLATED = "per model: peak RSS of a fresh spawned process that loads the data and trains only that model"
RSS_IN_PROCESS = "process-wide: peak RSS of the whole run up to the end of that model (--in-process)"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m recommender.ml.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--interactions", required=True, help="CSV: user_id,item_id,timestamp[,event,rating,weight]")
    parser.add_argument("--social", help="CSV: user_id,friend_id")
    parser.add_argument("--reviews", help="CSV: user_id,item_id,text")
    parser.add_argument("--items", help="CSV: item_id plus feature columns")
    parser.add_argument("--models", default=",".join(ALL_MODELS), help="comma-separated, from " + ",".join(ALL_MODELS))
    parser.add_argument("--out", help="write the result JSON here")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    parser.add_argument("--in-process", action="store_true",
                        help="run all models in this process (faster; peak RSS is then process-wide)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="models trained at once, each in its own process with cpu_count // jobs threads")
    # --epochs, --seed, --patience and the hybrid's hyper-parameters: one option per TrainConfig field.
    # --epochs caps every neural model; left out, each uses its own default cap.
    hybrid = parser.add_argument_group("hybrid (TrainConfig; --epochs, --seed and --patience apply to every model)")
    config_arguments(hybrid)
    parser.set_defaults(epochs=None)
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in ALL_MODELS]
    if unknown or not args.models:
        parser.error(f"--models: unknown {', '.join(unknown) or '(none given)'}; choose from {','.join(ALL_MODELS)}")
    if args.jobs < 1:
        parser.error("--jobs: must be at least 1")
    if args.jobs > 1 and args.in_process:
        parser.error("--jobs: runs models in processes of their own; it cannot be combined with --in-process")
    return args


def threads_per_model(jobs: int) -> int | None:
    """Torch threads of each model process (None: torch's default, all cores, when one at a time)."""
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def hybrid_config(args: argparse.Namespace) -> TrainConfig:
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    if values["epochs"] is None:
        del values["epochs"]  # the hybrid's own default cap
    return TrainConfig(**values)


def load(args: argparse.Namespace):
    return load_csv(args.interactions, args.social, args.reviews, args.items)


def model_worker(args: argparse.Namespace, name: str, config: dict, progress) -> dict:
    """Child process: load the files, train one model, return its result (progress on the way)."""
    return run_model(load(args), name, args.epochs, args.seed, args.device, progress=progress,
                     train_config=TrainConfig.from_dict(config), patience=args.patience)


def run_isolated(args: argparse.Namespace, names: list[str], config: TrainConfig):
    """Yields (name, result dict or exception) as models finish, up to args.jobs training at once."""
    jobs = [(name, model_worker, (args, name, config.to_dict())) for name in names]
    yield from run_jobs(jobs, args.jobs, threads_per_model(args.jobs), lambda _, point: print_progress(point),
                        on_start=lambda name: print(f"[{name}] training", file=sys.stderr, flush=True))


def run_in_process(args: argparse.Namespace, dataset, names: list[str], config: TrainConfig):
    """Yields (name, result dict or exception), one model after another in this process."""
    for name in names:
        print(f"[{name}] training", file=sys.stderr, flush=True)
        try:
            yield name, run_model(dataset, name, args.epochs, args.seed, args.device, print_progress,
                                  config, patience=args.patience)
        except Exception as exc:
            yield name, exc


def print_progress(point: dict) -> None:
    tower = f"/{point['tower']}" if point.get('tower') else ""
    print(f"[{point.get('model', '?')}{tower}] epoch {point['epoch']}/{point['epochs']} loss {point['loss']:.4f} "
          f"val ndcg@10 {point['val_ndcg@10']:.4f} ({point.get('seconds', 0):.0f} s so far)", file=sys.stderr, flush=True)


def machine(device: str) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    dev = resolve_device(device)
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            # what softmax_precision="auto" resolves to here (used by the sampled loss only)
            "native_bfloat16": native_bfloat16(dev),
            "allocator": active_allocator(),  # tcmalloc when installed (recommender/ml/allocator.py)
            "load_average_at_start": round(os.getloadavg()[0], 1)}  # > cpu_count: a shared, busy machine


def table(models: dict) -> str:
    """Rows sorted by test NDCG@10; '*' marks the best value of each column."""
    best = {c: max(r[c] for r in models.values()) for c in COLUMNS}
    header = f"{'model':<10}" + "".join(f"{c:>13}" for c in COLUMNS) + f"{'epochs':>8}{'train s':>10}{'peak MB':>10}"
    lines = [header, "-" * len(header)]
    for name, r in sorted(models.items(), key=lambda kv: -kv[1]["ndcg@10"]):
        cells = "".join(f"{r[c]:>12.4f}{'*' if r[c] == best[c] else ' '}" for c in COLUMNS)
        epochs = str(r.get("epochs") or "-")
        lines.append(f"{name:<10}{cells}{epochs:>8}{r['train_seconds']:>10.1f}{r['peak_rss_mb']:>10.0f}")
    for name, r in models.items():
        if r.get("worker_peak_rss_mb"):
            peaks = " and ".join(f"{peak:.0f}" for peak in r["worker_peak_rss_mb"])
            lines.append(f"{name}: towers trained in {len(r['worker_peak_rss_mb'])} worker process(es), "
                         f"peak RSS {peaks} MB, not in its peak MB")
    return "\n".join(lines)


def write_json(path: str, payload: dict) -> None:
    """Atomic: a reader never sees half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as tmp:
        json.dump(payload, tmp, indent=2)
    os.replace(tmp.name, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        dataset = load(args)
        config = hybrid_config(args)
    except ValueError as exc:  # DataError ("FILE:LINE: reason") or a TrainConfig option out of range
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stats = dataset.stats
    print(f"{dataset.name}: {stats['users']} users, {stats['items']} items, {stats['interactions']} interactions, "
          f"{stats.get('social_edges', 0)} social edges", file=sys.stderr, flush=True)
    payload = {
        "dataset": {"name": dataset.name, "users": stats["users"], "items": stats["items"],
                    "interactions": stats["interactions"], "social_edges": stats.get("social_edges", 0)},
        "protocol": PROTOCOL,
        "machine": machine(args.device),
        "settings": {"epochs_cap": args.epochs, "patience": args.patience, "seed": args.seed,
                     "hybrid": config.to_dict(), "ablations": ABLATIONS,
                     "baselines": {name: vars(cls()) for name, cls in BASELINES.items()},
                     "peak_rss": RSS_IN_PROCESS if args.in_process else RSS_ISOLATED,
                     "jobs": args.jobs, "threads_per_model": threads_per_model(args.jobs) or torch.get_num_threads()},
        "models": {},
    }
    failed, results = [], {}
    runs = run_in_process(args, dataset, args.models, config) if args.in_process else \
        run_isolated(args, args.models, config)
    for name, outcome in runs:
        if isinstance(outcome, Exception):
            print(f"error: model {name} failed: {outcome}", file=sys.stderr)
            failed.append(name)
            continue
        results[name] = outcome
        # in --models order whichever finished first; after every model, so a long run that is
        # stopped keeps what it measured
        payload["models"] = {m: results[m] for m in args.models if m in results}
        if args.out:
            write_json(args.out, payload)
    if payload["models"]:
        print(table(payload["models"]))
    return 1 if failed else 0

if __name__ == "__main__":
    use_tcmalloc()  # here, not in main(): tests call main() inside their own process
    sys.exit(main())
