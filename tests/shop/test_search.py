from decimal import Decimal

import pytest
from django.db import connection

from shop import catalogue
from shop.models import Product
from tests.conftest import require_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def tents(store):
    outdoors = store["categories"]["kitchen"]  # any category: ranking is about the text
    make = lambda title, description: Product.objects.create(  # noqa: E731
        title=title, description=description, category=outdoors, price=Decimal("100"), stock=1)
    return {
        "title": make("Ridgeline Backpacking Tent", "Sleeps two."),
        "description": make("Summit Shelter", "A light tent for backpacking trips."),
        "other": make("Basecamp Stove", "Boils water fast."),
    }


def test_postgres_full_text_ranks_title_hits_above_description_hits(tents, on_postgres):
    require_service("PostgreSQL", on_postgres)
    results = list(catalogue.search("backpacking tents"))  # stemming: "tents" finds "tent"
    assert results[:2] == [tents["title"], tents["description"]] and tents["other"] not in results
    assert results[0].rank > results[1].rank > 0


def test_postgres_search_understands_web_syntax(tents, on_postgres):
    require_service("PostgreSQL", on_postgres)
    assert list(catalogue.search('tent -"summit"')) == [tents["title"]]


def test_fallback_ranks_title_hits_first_and_needs_every_word(tents):
    results = list(catalogue._fallback_search(catalogue.active_products(), "backpacking tent"))
    assert results == [tents["title"], tents["description"]]
    assert results[0].rank == 6 and results[1].rank == 2
    assert list(catalogue._fallback_search(catalogue.active_products(), "tent stove")) == []


def test_search_ignores_inactive_products_and_blank_queries(tents):
    Product.objects.filter(pk=tents["title"].pk).update(active=False)
    assert tents["title"] not in catalogue.search("backpacking")
    assert not catalogue.search("   ").exists()


def test_postgres_search_document_is_stored_and_gin_indexed(tents, on_postgres):
    require_service("PostgreSQL", on_postgres)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'product_search_gin'")
        assert "USING gin (search_vector)" in cursor.fetchone()[0]
        # A tiny table: turn the sequential scan off to see that the search filter can use the index
        # (without the `active` filter, whose own b-tree index the planner may prefer at this size).
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = catalogue.search("backpacking", qs=Product.objects.all()).query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "product_search_gin" in plan, f"{sql}\n{plan}"


def test_postgres_search_document_follows_every_write_path(store, tents, on_postgres):
    require_service("PostgreSQL", on_postgres)
    Product.objects.bulk_create([Product(title="Trailhead Lantern", category=tents["other"].category,
                                         price=Decimal("30"), stock=1)])
    assert [p.title for p in catalogue.search("lantern")] == ["Trailhead Lantern"]
    stove = tents["other"]
    stove.title = "Basecamp Kettle"
    stove.save()  # a full save writes NULL into the column: the trigger recomputes it
    assert list(catalogue.search("kettle")) == [stove] and not catalogue.search("stove").exists()
    Product.objects.filter(pk=stove.pk).update(stock=7)  # untouched text keeps its document
    assert list(catalogue.search("kettle")) == [stove]
    brand = store["brands"]["lumina"]
    stove.brand = brand
    stove.save(update_fields=["brand"])
    brand.name = "Glacierworks"
    brand.save()  # a brand rename reaches its products' documents
    assert stove in catalogue.search("glacierworks")
    category = stove.category
    category.name = "Outdoor Cooking"
    category.save()
    assert stove in catalogue.search("outdoor cooking")


def test_only_postgres_keeps_a_search_document(tents, on_postgres):
    documents = Product.objects.exclude(search_vector=None).count()
    assert documents == (Product.objects.count() if on_postgres else 0) and (documents > 0) == on_postgres
    assert list(catalogue.search("backpacking tent")) == [tents["title"], tents["description"]]
