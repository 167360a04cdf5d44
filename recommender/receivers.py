"""Reacts to the store's events (a purchase or a follow refreshes that customer's list) and
to rule changes (the rules cache is dropped)."""
from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.models import Event
from shop.signals import event_recorded

from .models import MerchandisingRule
from .rules import forget_rules

REFRESH_ON = (Event.Type.PURCHASE, Event.Type.FOLLOW)


@receiver(event_recorded, sender=Event, dispatch_uid="recommender.refresh_customer")
def refresh_after_purchase_or_follow(sender, event: Event, **kwargs) -> None:
    if event.type not in REFRESH_ON or event.customer_id is None:
        return
    if not getattr(settings, "RECOMMENDER_REFRESH_ON_EVENTS", True):
        return
    from .tasks import refresh_customer

    # event_recorded is sent after commit already; delay_on_commit also covers a caller's
    # surrounding transaction.
    refresh_customer.delay_on_commit(event.customer_id)


@receiver([post_save, post_delete], sender=MerchandisingRule, dispatch_uid="recommender.rules_changed")
def rules_changed(sender, **kwargs) -> None:
    """A saved or deleted rule applies on the next request in this process (others: within
    rules.RULES_CACHE_SECONDS when the cache is per process, at once with a shared cache)."""
    forget_rules()
