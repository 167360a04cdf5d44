"""Friends in an explanation: one scan of the social attention per explained item (before) against
one index per checkpoint (`explain.friends_by_user`, now), at the scale of bench/ml_speed.py.

    .venv/bin/python bench/explain_friends.py [--users 100000 --edges 200000 --lookups 1000]

Prints the median time of one lookup each way, the index build time and the ratio, measured in
this run on this machine.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recommender.ml import explain as ex  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    edges = torch.randint(0, args.users, (2, args.edges), generator=generator)
    edges = torch.cat([edges, torch.arange(args.users).repeat(2, 1)], 1)  # GATConv's self loops
    alpha = torch.rand(edges.shape[1], generator=generator)
    attention = (edges, alpha)
    users = torch.randint(0, args.users, (args.lookups,), generator=generator).tolist()

    scan = []
    for user in users[: max(1, args.lookups // 10)]:  # the scan is slow: a tenth of the lookups
        started = time.perf_counter()
        ex.friend_weights(attention, user)
        scan.append(time.perf_counter() - started)
    started = time.perf_counter()
    index = ex.friends_by_user(attention)
    build = time.perf_counter() - started
    lookup = []
    for user in users:
        started = time.perf_counter()
        index.get(user, [])
        lookup.append(time.perf_counter() - started)
    scan_ms, lookup_ms = statistics.median(scan) * 1e3, statistics.median(lookup) * 1e3
    print(f"{args.users:,} users, {args.edges:,} social edges (+ self loops), torch threads {torch.get_num_threads()}")
    print(f"scan per explained item (median of {len(scan)}): {scan_ms:.3f} ms")
    print(f"index build, once per checkpoint: {build * 1e3:.0f} ms")
    print(f"indexed lookup (median of {len(lookup)}): {lookup_ms:.5f} ms")
    print(f"ratio scan / lookup: {scan_ms / lookup_ms:.0f}x; the index pays for itself after "
          f"{build * 1e3 / scan_ms:.0f} explained items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
