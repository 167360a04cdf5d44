"""Personalised order of a page of search results, with the relevance order as the fallback.

The recommender re-ranks only the current page (a fixed, small list), so relevance still
decides which products make the page and the model only decides their order on it.
"""
import logging

from recommender import serving

from .models import Event

logger = logging.getLogger(__name__)


def has_history(customer, session_key: str) -> bool:
    """A known customer, or a visitor whose session has touched a product (view, cart...)."""
    if customer is not None:
        return True
    return bool(session_key) and Event.objects.filter(session_key=session_key, product__isnull=False).exists()


def rerank_page(page, customer, session_key: str) -> None:
    """Replace `page.object_list` by the shopper's personal order when there is history."""
    products = list(page.object_list)
    if len(products) < 2 or not has_history(customer, session_key):
        page.object_list = products
        return
    try:
        reranked = serving.rerank_products(customer, session_key, products)
    except Exception:  # a broken model must not break search: keep the relevance order
        logger.exception("re-ranking search results failed; relevance order kept")
        reranked = products
    if sorted(p.pk for p in reranked) != sorted(p.pk for p in products):
        logger.error("rerank_products changed the result set; relevance order kept")
        reranked = products
    page.object_list = list(reranked)
