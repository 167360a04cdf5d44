"""Deterministic demo data for the store: `from shop.demo import seed`."""
from .generator import MERCHANDISER, StoreNotEmpty, ensure_merchandiser, flush_store, seed

__all__ = ["MERCHANDISER", "StoreNotEmpty", "ensure_merchandiser", "flush_store", "seed"]
