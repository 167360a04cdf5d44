"""recommender.ml.allocator: the command-line entry points restart once under tcmalloc."""
import os
import subprocess
import sys

import pytest

from recommender.ml.allocator import REEXECUTED, tcmalloc_library

CHILD = ("from recommender.ml.allocator import active_allocator, use_tcmalloc; "
         "print('before', flush=True); use_tcmalloc(); print(active_allocator())")


def run_child(**env) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("GRAPHCART_MALLOC", REEXECUTED, "LD_PRELOAD")}
    out = subprocess.run([sys.executable, "-c", CHILD], env={**environ, **env}, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    return out.stdout.split()


@pytest.fixture
def library():
    path = tcmalloc_library()
    if path is None:
        if os.environ.get("CI") == "true":  # .ci/run installs libtcmalloc-minimal4
            pytest.fail("libtcmalloc_minimal.so.4 is not installed")
        pytest.skip("libtcmalloc_minimal.so.4 is not installed (apt-get install libtcmalloc-minimal4)")
    return path


def test_a_command_restarts_once_under_tcmalloc(library):
    # printed once before the restart (flushed, not lost) and once after it; then tcmalloc is loaded
    assert run_child() == ["before", "before", "tcmalloc"]


def test_glibc_malloc_on_request_and_no_second_restart(library):
    assert run_child(GRAPHCART_MALLOC="system") == ["before", "system"]
    # a restart that did not get tcmalloc loaded (the loader only warns) does not loop
    assert run_child(**{REEXECUTED: "1"}) == ["before", "system"]


def test_the_library_is_found_or_opted_out(monkeypatch):
    monkeypatch.setenv("GRAPHCART_MALLOC", "system")
    assert tcmalloc_library() is None
    monkeypatch.setattr("recommender.ml.allocator.CANDIDATES", ())
    monkeypatch.delenv("GRAPHCART_MALLOC")
    assert tcmalloc_library() is None
