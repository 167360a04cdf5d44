"""Per-process memory with a short time to live, for what every request reads but rarely changes.

A web worker answers hundreds of requests a second and each needs the same product facts,
product rows and trending list; re-reading them from the database (or Redis) every time was
most of a request's cost. Entries live RECOMMENDER_SERVING_CACHE_SECONDS (0 turns this off,
as the tests do), so a price, stock or activation change reaches every worker within that.
A map can take its own time to live (`seconds`): the materialized lists live
RECOMMENDER_MATERIALIZED_CACHE_SECONDS (recommender/serving.py says why that is safe).
"""
import time
from collections.abc import Callable, Hashable, Iterable

from django.conf import settings


def ttl_seconds() -> float:
    return float(getattr(settings, "RECOMMENDER_SERVING_CACHE_SECONDS", 5))


class TTLMap:
    """{key: value} whose entries expire; misses are loaded together in one call."""

    def __init__(self, max_entries: int = 50_000, seconds: Callable[[], float] = ttl_seconds):
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._max_entries = max_entries
        self._seconds = seconds

    def get_many(self, keys: Iterable[Hashable], load: Callable[[list], dict]) -> dict:
        """{key: value} for the keys `load(missing_keys)` knows; fresh entries skip the load."""
        seconds, now = self._seconds(), time.monotonic()
        found, missing = {}, []
        for key in keys:
            entry = self._entries.get(key) if seconds > 0 else None
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
            else:
                missing.append(key)
        if missing:
            loaded = load(missing)
            found.update(loaded)
            if seconds > 0:
                if len(self._entries) + len(loaded) > self._max_entries:
                    self._entries.clear()  # crude but bounded: a big catalogue refills what it uses
                self._entries.update((key, (now + seconds, value)) for key, value in loaded.items())
        return found

    def get(self, key: Hashable, load: Callable[[], object]):
        """One value, `load()` on a miss."""
        return self.get_many([key], lambda _missing: {key: load()})[key]

    def discard(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
