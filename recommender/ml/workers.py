"""Functions run in fresh spawned processes, a few at once, reporting through a queue.

The benchmark's `--jobs` runs each model this way, so that each process's peak RSS is its model's
own (train()'s parallel_towers reuses a pool of workers instead: tower_pool.py). A job is
(name, target, args): the child sets its torch thread count, calls `target(*args, progress)` and
sends back what it returns; `progress(point)` sends a progress point on the way. A child that
raises, or dies, is reported as an exception in its place; the others go on. Arguments and
results travel pickled.

"spawn", not "fork": a forked child would inherit the parent's OpenMP thread pool, which is
not fork-safe, and whatever locks other threads held.
"""
from __future__ import annotations

import multiprocessing
import resource
import traceback
from collections.abc import Callable, Iterator
from queue import Empty

import torch


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(target: Callable, args: tuple, queue, threads: int | None) -> None:
    try:
        if threads:
            torch.set_num_threads(threads)
        queue.put(("result", target(*args, lambda point: queue.put(("progress", point)))))
    except BaseException as exc:  # reported by the parent; the traceback goes to stderr here
        traceback.print_exc()
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


class Worker:
    """One job in a spawned process; poll() returns what it sent, or its failure."""

    def __init__(self, name: str, target: Callable, args: tuple, threads: int | None):
        context = multiprocessing.get_context("spawn")
        self.name, self.queue = name, context.Queue()
        self.process = context.Process(target=_child, args=(target, args, self.queue, threads), name=name)
        self.process.start()

    def poll(self, timeout: float) -> tuple[str, object] | None:
        """("progress", point), ("result", value) or ("error", message); None while nothing came."""
        try:
            kind, payload = self.queue.get(timeout=timeout)
        except Empty:  # nothing for a while: is the child still alive?
            if self.process.is_alive():
                return None
            self.process.join()
            return "error", f"worker exited with status {self.process.exitcode}"
        if kind != "progress":
            self.process.join()
        return kind, payload

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def run_jobs(jobs: list[tuple[str, Callable, tuple]], at_once: int, threads: int | None,
             on_progress: Callable[[str, object], None],
             on_start: Callable[[str], None] | None = None) -> Iterator[tuple[str, object]]:
    """Yields (name, result or RuntimeError) as jobs finish, up to `at_once` running, started in
    list order (on_start(name) as each starts). Progress points go to on_progress(name, point) as they arrive. Stopping the
    iteration (or an exception in on_progress) stops the children still running."""
    waiting, running = list(jobs), []
    try:
        while waiting or running:
            while waiting and len(running) < at_once:
                running.append(Worker(*waiting.pop(0), threads))
                if on_start:
                    on_start(running[-1].name)
            # one job: block on its queue; several: take turns so none's progress waits long
            for worker in list(running):
                message = worker.poll(timeout=5 if len(running) == 1 else 0.2)
                if message is None:
                    continue
                kind, payload = message
                if kind == "progress":
                    on_progress(worker.name, payload)
                    continue
                running.remove(worker)
                yield worker.name, payload if kind == "result" else RuntimeError(f"{worker.name}: {payload}")
    finally:  # an interrupted run leaves no processes behind
        for worker in running:
            worker.stop()
