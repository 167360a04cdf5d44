"""Run training under tcmalloc when the system has it (`apt-get install libtcmalloc-minimal4`).

glibc's malloc hands the big tensors of a training step (above its mmap threshold) back to the
kernel when they are freed, and the next step's tensors arrive as fresh pages the kernel must
zero: at 100k users that is most of the system time of an epoch. tcmalloc keeps freed memory for
reuse. Measured on the 2-core Intel machine, one epoch per tower at 100k users / 50k items, the
same losses to the last printed digit: graph tower 29.7 -> 24.9 s, social 28.5 -> 22.3 s, sequence
57.9 -> 49.7 s, peak RSS 3.4 -> 3.7 GB (docs/benchmarks.md, "Seventh session").

An allocator is chosen when a process starts (LD_PRELOAD), so `use_tcmalloc()` re-executes the
running command once with it preloaded. GRAPHCART_MALLOC=system keeps glibc's malloc.

    python -m recommender.ml.allocator   # prints the library to preload, or nothing
"""
from __future__ import annotations

import glob
import os
import sys

CANDIDATES = ("/usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4", "/usr/lib64/libtcmalloc_minimal.so.4",
              "/usr/lib/libtcmalloc_minimal.so.4", "/usr/local/lib/libtcmalloc_minimal.so.4")
OPT_OUT = "GRAPHCART_MALLOC"
REEXECUTED = "GRAPHCART_MALLOC_REEXECUTED"


def tcmalloc_library() -> str | None:
    """The tcmalloc library to preload, or None (not installed, or GRAPHCART_MALLOC=system)."""
    if os.environ.get(OPT_OUT, "tcmalloc") == "system":
        return None
    return next((path for pattern in CANDIDATES for path in sorted(glob.glob(pattern))), None)


def active_allocator() -> str:
    """"tcmalloc" when this process runs with it, else "system"."""
    try:
        with open("/proc/self/maps") as maps:
            return "tcmalloc" if "libtcmalloc" in maps.read() else "system"
    except OSError:
        return "system"


def use_tcmalloc() -> None:
    """Re-execute this command with tcmalloc preloaded, when it is installed and not loaded yet.

    Call it first thing in a command-line entry point: nothing before it survives the exec.
    """
    library = tcmalloc_library()
    # REEXECUTED: once only, even if the loader could not preload the library (it then warns and goes on)
    if library is None or os.environ.get(REEXECUTED) or active_allocator() == "tcmalloc" \
            or not getattr(sys, "orig_argv", None):
        return
    preload = " ".join(filter(None, [library, os.environ.get("LD_PRELOAD", "")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, {**os.environ, "LD_PRELOAD": preload, REEXECUTED: "1"})


if __name__ == "__main__":
    print(tcmalloc_library() or "")
