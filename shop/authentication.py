"""DRF token authentication that remembers a checked token for a few seconds per process.

DRF's TokenAuthentication reads the token and its user from the database on every request;
on the recommendations endpoint that was the most expensive query of the request. Here a
token that authenticated is trusted again for API_TOKEN_CACHE_SECONDS (default 10) in the
same process. Bounds, as documented in the README:

- a deleted token, or a user deleted, deactivated or otherwise saved, stops working at once
  in the process that made the change (the signal receivers below) and within
  API_TOKEN_CACHE_SECONDS in every other process;
- a wrong or unknown token is never remembered (each try reads the database, as before);
- 0 turns the cache off (the tests do, except the ones about it).
"""
import copy
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

MAX_ENTRIES = 10_000
clock = time.monotonic  # (tests replace it)

_lock = threading.Lock()
_checked: dict[str, tuple[float, object, Token]] = {}  # key -> (expires, user, token)


def cache_seconds() -> float:
    return float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 10))


class CachedTokenAuthentication(TokenAuthentication):
    """TokenAuthentication (same header, same errors) with a short per-process memory."""

    def authenticate_credentials(self, key):
        seconds = cache_seconds()
        if seconds <= 0:
            return super().authenticate_credentials(key)
        now = clock()
        entry = _checked.get(key)
        if entry is None or entry[0] <= now:
            user, token = super().authenticate_credentials(key)  # raises for unknown keys, inactive users
            entry = (now + seconds, user, token)
            with _lock:
                if len(_checked) >= MAX_ENTRIES:
                    _checked.clear()
                _checked[key] = entry
        # A copy per request: a view that sets attributes on request.user changes only its own.
        return copy.copy(entry[1]), entry[2]


def forget(key: str | None = None, user_id: int | None = None) -> None:
    """Drop remembered tokens: one key, every key of one user, or (no argument) all."""
    with _lock:
        if key is None and user_id is None:
            _checked.clear()
            return
        for k in [k for k, (_, user, _token) in _checked.items() if k == key or user.pk == user_id]:
            del _checked[k]


@receiver(post_delete, sender=Token, dispatch_uid="shop.authentication.token_deleted")
def _token_deleted(sender, instance, **kwargs):
    forget(key=instance.key)


@receiver([post_save, post_delete], sender=get_user_model(), dispatch_uid="shop.authentication.user_changed")
def _user_changed(sender, instance, **kwargs):
    forget(user_id=instance.pk)
