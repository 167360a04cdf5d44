"""Catalogue queries shared by the store pages and the API: listing, sorting, search."""
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When

from .models import Category, Product

SORTS = {
    "popularity": ("-popularity_score", "-created", "pk"),
    "newest": ("-created", "pk"),
    "price": ("price", "pk"),
    "price_desc": ("-price", "pk"),
}
SORT_LABELS = {"popularity": "Most popular", "newest": "Newest", "price": "Price: low to high",
               "price_desc": "Price: high to low"}
DEFAULT_SORT = "popularity"


def active_products() -> QuerySet[Product]:
    return Product.objects.filter(active=True).select_related("category", "brand")


def with_popularity(qs: QuerySet[Product]) -> QuerySet[Product]:
    # Oscar's weighting, as Product.popularity, but computed in SQL so it can be sorted on.
    return qs.annotate(popularity_score=F("view_count") + 3 * F("cart_count") + 5 * F("purchase_count"))


def in_category(category: Category, sort: str = DEFAULT_SORT) -> QuerySet[Product]:
    qs = with_popularity(active_products().filter(category_id__in=category.descendant_ids()))
    return qs.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


def search(query: str, qs: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """Products matching `query`, most relevant first (annotated with `rank`).

    PostgreSQL: full-text search (title weighted above brand/category, above description).
    Elsewhere: every word must appear somewhere; a title hit scores 3, a brand or category hit 2,
    a description hit 1.
    """
    qs = active_products() if qs is None else qs
    query = (query or "").strip()
    if not query:
        return qs.none()
    if connection.vendor == "postgresql":
        return _postgres_search(qs, query)
    return _fallback_search(qs, query)


def _postgres_search(qs: QuerySet[Product], query: str) -> QuerySet[Product]:
    from django.contrib.postgres.search import SearchQuery, SearchRank

    # `search_vector` is the stored, GIN-indexed document (migration 0002's triggers keep it current).
    search_query = SearchQuery(query, search_type="websearch", config="english")
    return (
        qs.annotate(rank=SearchRank(F("search_vector"), search_query))
        .filter(search_vector=search_query)
        .order_by("-rank", "-purchase_count", "pk")
    )


def _fallback_search(qs: QuerySet[Product], query: str) -> QuerySet[Product]:
    terms = [t for t in query.split() if t][:8]
    score = Value(0, output_field=IntegerField())
    for term in terms:
        qs = qs.filter(_any_field(term))
        score = score + _hit(title__icontains=term, points=3) + _hit(brand__name__icontains=term, points=2) \
            + _hit(category__name__icontains=term, points=2) + _hit(description__icontains=term, points=1)
    return qs.annotate(rank=score).order_by("-rank", "-purchase_count", "pk")


def _any_field(term: str) -> Q:
    return (Q(title__icontains=term) | Q(description__icontains=term) | Q(brand__name__icontains=term)
            | Q(category__name__icontains=term))


def _hit(points: int, **lookup):
    return Case(When(then=Value(points), **lookup), default=Value(0), output_field=IntegerField())
