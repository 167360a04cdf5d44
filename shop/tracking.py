"""The one entry point that records what shoppers do: `record()` for a single event (every
view and the API), `record_many()` for an all-or-nothing batch (API batches, CSV import).

Recording must never break a page: `record()` logs and counts its failures instead of
raising (`failure_count()`). Product counters are bumped with F() so concurrent requests
never lose an update, and `shop.signals.event_recorded` is sent only once the row is
committed, so a receiver (or a Celery task it queues) never sees an event that rolls back.
"""
import logging
import threading
from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Customer, Event, Product
from .signals import event_recorded

logger = logging.getLogger(__name__)

# Which Product counter each event type bumps.
COUNTER_FIELDS = {
    Event.Type.VIEW: "view_count",
    Event.Type.ADD_TO_CART: "cart_count",
    Event.Type.PURCHASE: "purchase_count",
}

_failures = 0
_failures_lock = threading.Lock()


def failure_count() -> int:
    """How many `record()` calls failed in this process (tests and health checks read it)."""
    return _failures


def _count_failure() -> None:
    global _failures
    with _failures_lock:
        _failures += 1


def customer_for_user(user) -> Customer | None:
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.customer
    except Customer.DoesNotExist:
        return None


def session_key_for(request) -> str:
    """The visitor's session key, creating the session for a first-time anonymous visitor."""
    session = getattr(request, "session", None)
    if session is None:
        return ""
    if not session.session_key:
        session.save()
    return session.session_key or ""


def record(
    type,
    *,
    request=None,
    customer=None,
    session_key="",
    product=None,
    query="",
    widget="",
    model_version="",
    metadata=None,
    timestamp=None,
) -> Event | None:
    """Record one event; returns it, or None when recording failed (logged and counted)."""
    try:
        if request is not None:
            customer = customer or customer_for_user(getattr(request, "user", None))
            session_key = session_key or session_key_for(request)
        event = Event(
            type=Event.Type(type),
            customer=customer,
            session_key=session_key or "",
            product=product,
            query=(query or "")[:200],
            widget=widget or "",
            model_version=model_version or "",
            metadata=metadata or {},
            timestamp=timestamp or timezone.now(),
        )
        # A savepoint: a failure here must not poison the caller's transaction (PostgreSQL).
        with transaction.atomic():
            event.save()
            _bump_counters(Counter({(event.type, event.product_id): 1}))
            transaction.on_commit(lambda: _announce([event]))
        return event
    except Exception:
        _count_failure()
        logger.exception("could not record %r event", type)
        return None


def record_many(events: Iterable[Event], *, batch_size: int = 1000, notify: bool = True) -> list[Event]:
    """Insert unsaved Event objects all-or-nothing (raises on failure: the caller validated them).

    Counters are bumped once per (type, product). `notify=False` skips the per-event signal
    (bulk imports: the recommender retrains from the table instead of reacting to each row).
    """
    events = list(events)
    if not events:
        return []
    with transaction.atomic():
        created = Event.objects.bulk_create(events, batch_size=batch_size)
        _bump_counters(Counter((e.type, e.product_id) for e in created))
        if notify:
            transaction.on_commit(lambda: _announce(created))
    return created


def _bump_counters(counts: Counter) -> None:
    for (type_, product_id), n in counts.items():
        field = COUNTER_FIELDS.get(type_)
        if field and product_id:
            Product.objects.filter(pk=product_id).update(**{field: F(field) + n})


def _announce(events: list[Event]) -> None:
    # send_robust: one broken receiver must neither break the page nor starve the others.
    for event in events:
        for receiver, result in event_recorded.send_robust(sender=Event, event=event):
            if isinstance(result, Exception):
                _count_failure()
                logger.error("event_recorded receiver %r failed for event %s: %r", receiver, event.pk, result)
