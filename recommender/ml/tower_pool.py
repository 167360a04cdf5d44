"""Tower trainings in a pool of spawned processes, a few at once (TrainConfig.parallel_towers).

Each worker process receives the dataset once (its tensors through torch's shared memory, not
copied) and sets its torch threads to 1/n of the parent's; each tower training is train_tower,
seeded on its own, so the towers equal those of one-at-a-time training with that many threads.
A worker sends progress points through a queue and returns the trained weights as torch.save
bytes (no shared-memory tensors that would have to outlive the worker), its history and its
peak RSS. "spawn", not "fork": a forked child would inherit the parent's OpenMP thread pool,
which is not fork-safe.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from queue import Empty

import torch

from .data import Dataset
from .model import Tower
from .train import TrainConfig, build_tower, train_tower
from .workers import peak_rss_mb

# At module level: a worker unpickles the dataset's CSR adjacency (which warns that sparse CSR is
# "beta") right after importing this module, before any function of it runs.
warnings.filterwarnings("ignore", message="Sparse (CSR tensor support|invariant checks)")

_dataset: Dataset | None = None  # in a worker process: the dataset it trains on
_progress = None  # in a worker process: the queue its progress points go to


def _start_worker(dataset: Dataset, progress, threads: int) -> None:
    global _dataset, _progress
    _dataset, _progress = dataset, progress
    torch.set_num_threads(threads)


def _train_one(k: int, config: dict, group: tuple[str, ...], device: str, label: str) -> dict:
    tower, history = train_tower(_dataset, TrainConfig.from_dict(config), group, torch.device(device),
                                 lambda point: _progress.put((k, point)), label)
    _progress.put((k, None))  # the end of job k, after its last point on the same queue
    buffer = io.BytesIO()
    torch.save({name: value.cpu() for name, value in tower.state_dict().items()}, buffer)
    return {"state": buffer.getvalue(), "history": history, "pid": os.getpid(), "peak_rss_mb": peak_rss_mb()}


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the waiting trainings and end the running ones: after one failure the result is
    lost anyway. (Python 3.14 has pool.terminate_workers(); before it, the workers are only
    reachable through the pool's _processes.)"""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def train_in_pool(dataset: Dataset, jobs: list[tuple[TrainConfig, tuple[str, ...], str]], dev: torch.device,
                  at_once: int, report_for: Callable[[int], Callable[[dict], None]],
                  finished: Callable[[int], None] = lambda k: None) -> tuple[list[tuple[Tower, list[dict]]], list[float]]:
    """train_tower for each (config, branches, label) in `at_once` worker processes: (tower,
    history) in the jobs' order, and each worker process's peak RSS in MB. report_for(k) takes
    job k's progress points, finished(k) is called when it ends. Sequence trainings are submitted
    first: on the CPU they are the longest, and one started last would leave a core idle at the
    end. A training that fails raises RuntimeError naming it; then, as on any exception here
    (one raised by a progress callback included), the other trainings are stopped at once."""
    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    threads = max(1, torch.get_num_threads() // at_once)
    order = sorted(range(len(jobs)), key=lambda k: "sequence" not in jobs[k][1])  # stable
    results: dict[int, dict] = {}

    def relay() -> None:
        while True:
            try:
                k, point = progress.get_nowait()
            except Empty:
                return
            if point is None:
                finished(k)
            else:
                report_for(k)(point)

    with ProcessPoolExecutor(at_once, mp_context=context, initializer=_start_worker,
                             initargs=(dataset, progress, threads)) as pool:
        futures = {pool.submit(_train_one, k, jobs[k][0].to_dict(), jobs[k][1], str(dev), jobs[k][2]): k
                   for k in order}
        pending = set(futures)
        try:
            while pending:
                ended, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                relay()  # the caller's progress callback may raise (a time limit): the workers then stop
                for future in ended:
                    k = futures[future]
                    try:
                        results[k] = future.result()
                    except Exception as exc:
                        raise RuntimeError(f"tower training {jobs[k][2]!r} failed in its worker process: "
                                           f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            _stop(pool)
            raise
    relay()  # the workers have exited: whatever they sent is in the queue
    trained, peaks = [], {}
    for k, (config, group, _) in enumerate(jobs):
        tower = build_tower(dataset, config, group)
        tower.load_state_dict(torch.load(io.BytesIO(results[k]["state"]), weights_only=True))
        trained.append((tower.to(dev).eval(), results[k]["history"]))
        peaks[results[k]["pid"]] = max(peaks.get(results[k]["pid"], 0.0), results[k]["peak_rss_mb"])
    return trained, list(peaks.values())
