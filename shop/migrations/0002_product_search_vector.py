"""A stored, GIN-indexed full-text document for product search on PostgreSQL.

The document joins the product's brand and category names, which an expression index cannot
cover, so it is a column kept current by triggers: on the product's own text columns (every
insert path: ORM save, bulk_create, raw SQL) and on brand/category renames. Django's own saves
write NULL into it, which the product trigger (it fires on `search_vector` too) recomputes.
On SQLite the column stays NULL and nothing else is created: search falls back to LIKE.
"""
import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations

CREATE = """
CREATE FUNCTION shop_product_search_document() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', COALESCE(NEW.title, '')), 'A')
        || setweight(to_tsvector('english',
               COALESCE((SELECT name FROM shop_brand WHERE id = NEW.brand_id), '') || ' '
               || COALESCE((SELECT name FROM shop_category WHERE id = NEW.category_id), '')), 'B')
        || setweight(to_tsvector('english', COALESCE(NEW.description, '')), 'C');
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER shop_product_search_document
    BEFORE INSERT OR UPDATE OF title, description, brand_id, category_id, search_vector ON shop_product
    FOR EACH ROW EXECUTE FUNCTION shop_product_search_document();

CREATE FUNCTION shop_product_search_renamed() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'shop_brand' THEN
        UPDATE shop_product SET search_vector = NULL WHERE brand_id = NEW.id;
    ELSE
        UPDATE shop_product SET search_vector = NULL WHERE category_id = NEW.id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER shop_brand_search_renamed AFTER UPDATE OF name ON shop_brand
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION shop_product_search_renamed();
CREATE TRIGGER shop_category_search_renamed AFTER UPDATE OF name ON shop_category
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION shop_product_search_renamed();

UPDATE shop_product SET search_vector = NULL;  -- fills existing rows through the trigger
CREATE INDEX product_search_gin ON shop_product USING gin (search_vector);
"""

DROP = """
DROP INDEX IF EXISTS product_search_gin;
DROP TRIGGER IF EXISTS shop_category_search_renamed ON shop_category;
DROP TRIGGER IF EXISTS shop_brand_search_renamed ON shop_brand;
DROP TRIGGER IF EXISTS shop_product_search_document ON shop_product;
DROP FUNCTION IF EXISTS shop_product_search_renamed();
DROP FUNCTION IF EXISTS shop_product_search_document();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [("shop", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="product",
                    index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="product_search_gin"),
                ),
            ],
            database_operations=[migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))],
        ),
    ]
