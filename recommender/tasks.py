"""Celery tasks of the recommender (skeleton: `ping` proves the worker round trip)."""
from celery import shared_task


@shared_task(name="recommender.tasks.ping", acks_late=True)
def ping(value: str) -> str:
    return f"pong:{value}"
