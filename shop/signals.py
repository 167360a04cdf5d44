"""Signals other apps listen to (the recommender reacts to purchases and follows)."""
from django.dispatch import Signal

# Sent once per Event, after the transaction that wrote it has committed.
# Receivers get `sender=Event, event=<Event>`.
event_recorded = Signal()
