"""`manage.py import_interactions`: real data in DESIGN.md's CSV contract into the store.

Two phases: every file is parsed and validated first (a bad row rejects the whole import
with "FILE:LINE: reason"), then everything is written in one transaction. Re-running the
same import adds nothing: customers and products are matched by external_id, follows and
reviews by their pair, events by an import_key derived from the row's content.
"""
import csv
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify

from . import tracking
from .models import Brand, Category, Customer, Event, Follow, Product, Review
from .sentiment import sentiment_of

EVENT_TYPES = {"view": Event.Type.VIEW, "cart": Event.Type.ADD_TO_CART, "purchase": Event.Type.PURCHASE,
               "rating": Event.Type.REVIEW}
IMPORTED = "Imported"
CHUNK = 500  # ids per IN (...) query: well under SQLite's variable limit
USERNAME_SAFE = re.compile(r"^[\w.@+-]{1,100}$")


class ImportFileError(ValueError):
    def __init__(self, file, line: int | None, reason: str):
        self.file, self.line, self.reason = str(file), line, reason
        super().__init__(f"{self.file}:{line if line is not None else '-'}: {reason}")


@dataclass
class Row:
    user: str
    item: str
    timestamp: datetime
    event: str
    rating: int | None
    weight: float | None
    key: str


@dataclass
class Parsed:
    interactions: list[Row] = field(default_factory=list)
    social: list[tuple[str, str]] = field(default_factory=list)
    reviews: dict[tuple[str, str], str] = field(default_factory=dict)
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    item_columns: list[str] = field(default_factory=list)


# --- parsing ---------------------------------------------------------------------------


def _rows(path, required: list[str]):
    """Yield (line number, row dict) with the required columns present and non-empty."""
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # tolerate a BOM
    except OSError as error:
        raise ImportFileError(path, None, f"cannot open: {error.strerror}") from error
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if not header:
            raise ImportFileError(path, 1, "empty file (no header)")
        missing = [c for c in required if c not in header]
        if missing:
            raise ImportFileError(path, 1, f"missing column(s) {', '.join(missing)}; header is {','.join(header)}")
        count = 0
        try:
            for row in reader:
                count += 1
                if None in row or any(v is None for v in row.values()):
                    raise ImportFileError(path, reader.line_num, f"expected {len(header)} fields")
                for column in required:
                    if not row[column].strip():
                        raise ImportFileError(path, reader.line_num, f"empty {column}")
                yield reader.line_num, header, row
        except (csv.Error, UnicodeDecodeError) as error:
            raise ImportFileError(path, reader.line_num, f"unreadable CSV: {error}") from error
        if count == 0:
            raise ImportFileError(path, 2, "no data rows")


def parse_timestamp(value: str) -> datetime:
    value = value.strip()
    try:
        return datetime.fromtimestamp(float(value), tz=dt_timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # ValueError if not ISO 8601
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)


def _number(path, line, column, value):
    try:
        number = float(value)
    except ValueError:
        raise ImportFileError(path, line, f"{column} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImportFileError(path, line, f"{column} {value!r} is not a finite number")
    return number


def _parse_interactions(path, parsed: Parsed) -> None:
    seen = Counter()
    for line, _header, row in _rows(path, ["user_id", "item_id", "timestamp"]):
        user, item = row["user_id"].strip(), row["item_id"].strip()
        try:
            when = parse_timestamp(row["timestamp"])
        except ValueError:
            raise ImportFileError(path, line, f"timestamp {row['timestamp']!r} is neither unix seconds nor ISO 8601") from None
        rating = weight = None
        if (row.get("rating") or "").strip():
            rating = _number(path, line, "rating", row["rating"])
            if not 1 <= rating <= 5:
                raise ImportFileError(path, line, f"rating {row['rating']} is outside 1-5")
        if (row.get("weight") or "").strip():
            weight = _number(path, line, "weight", row["weight"])
        event = (row.get("event") or "").strip().lower() or ("rating" if rating is not None else "purchase")
        if event not in EVENT_TYPES:
            raise ImportFileError(path, line, f"event {event!r} is not one of {', '.join(EVENT_TYPES)}")
        if event == "rating" and rating is None:
            raise ImportFileError(path, line, "a rating event needs a rating")
        identity = (user, item, when.isoformat(), event)
        seen[identity] += 1  # identical rows stay distinct events, and stable across re-runs
        key = hashlib.sha1("\x1f".join((*identity, str(seen[identity]))).encode()).hexdigest()
        parsed.interactions.append(Row(user, item, when, event, round(rating) if rating is not None else None,
                                       weight, f"csv:{key}"))


def _parse_social(path, parsed: Parsed) -> None:
    for line, _header, row in _rows(path, ["user_id", "friend_id"]):
        user, friend = row["user_id"].strip(), row["friend_id"].strip()
        if user == friend:
            raise ImportFileError(path, line, f"user {user} follows itself")
        parsed.social.append((user, friend))


def _parse_reviews(path, parsed: Parsed) -> None:
    for _line, _header, row in _rows(path, ["user_id", "item_id", "text"]):
        parsed.reviews[(row["user_id"].strip(), row["item_id"].strip())] = row["text"].strip()


def _parse_items(path, parsed: Parsed) -> None:
    for line, header, row in _rows(path, ["item_id"]):
        if (row.get("price") or "").strip():
            price = _number(path, line, "price", row["price"])
            if price < 0:
                raise ImportFileError(path, line, f"price {row['price']} is negative")
        parsed.items[row["item_id"].strip()] = {k: (v or "").strip() for k, v in row.items()}
        parsed.item_columns = header


def parse(interactions, social=None, reviews=None, items=None, prefix: str = "") -> Parsed:
    parsed = Parsed()
    _parse_interactions(interactions, parsed)
    if social:
        _parse_social(social, parsed)
    if reviews:
        _parse_reviews(reviews, parsed)
    if items:
        _parse_items(items, parsed)
    return _prefixed(parsed, prefix) if prefix else parsed


def _prefixed(parsed: Parsed, prefix: str) -> Parsed:
    """Namespace every user and item id, so two data sets whose ids overlap stay apart."""
    for row in parsed.interactions:
        row.user, row.item = prefix + row.user, prefix + row.item
        row.key = "csv:" + hashlib.sha1(f"{prefix}\x1f{row.key}".encode()).hexdigest()
    parsed.social = [(prefix + a, prefix + b) for a, b in parsed.social]
    parsed.reviews = {(prefix + u, prefix + i): text for (u, i), text in parsed.reviews.items()}
    parsed.items = {prefix + i: features for i, features in parsed.items.items()}
    return parsed


# --- writing ----------------------------------------------------------------------------


def import_files(interactions, social=None, reviews=None, items=None, prefix: str = "") -> dict:
    """Validate every file, then write everything in one transaction; returns counts.

    `prefix` namespaces the data set's ids (e.g. "lastfm:"), for a store holding several."""
    parsed = parse(interactions, social, reviews, items, prefix)
    with transaction.atomic():
        customers, new_customers = _customers(parsed)
        products, new_products = _products(parsed)
        return {
            "customers_created": new_customers,
            "products_created": new_products,
            "follows_created": _follows(parsed, customers),
            "events_created": _events(parsed, customers, products, Path(interactions).name),
            "reviews_created": _reviews(parsed, customers, products),
            "rows_read": len(parsed.interactions),
        }


def _existing(model, external_ids: list[str]) -> dict[str, int]:
    found = {}
    for i in range(0, len(external_ids), CHUNK):
        found.update(model.objects.filter(external_id__in=external_ids[i:i + CHUNK]).values_list("external_id", "pk"))
    return found


def _customers(parsed: Parsed) -> tuple[dict[str, int], int]:
    ids = list(dict.fromkeys([r.user for r in parsed.interactions] + [u for pair in parsed.social for u in pair]
                             + [u for u, _ in parsed.reviews]))
    known = _existing(Customer, ids)
    missing = [x for x in ids if x not in known]
    for i in range(0, len(missing), 2000):
        batch = missing[i:i + 2000]
        users = User.objects.bulk_create([User(username=_username(x), password="!imported") for x in batch])
        created = Customer.objects.bulk_create(
            Customer(user=u, display_name=f"User {x}"[:120], external_id=x) for u, x in zip(users, batch)
        )
        known.update((c.external_id, c.pk) for c in created)
    return known, len(missing)


def _username(external_id: str) -> str:
    if USERNAME_SAFE.match(external_id):
        return f"ext_{external_id}"
    return f"ext_{hashlib.sha1(external_id.encode()).hexdigest()[:20]}"


def _category_column(columns: list[str]) -> str | None:
    """"category" if the file has it, else the first categorical column (DESIGN.md's contract)."""
    categorical = [c for c in columns if c not in {"item_id", "price", "title", "description", "brand"}]
    return "category" if "category" in categorical else (categorical[0] if categorical else None)


def _products(parsed: Parsed) -> tuple[dict[str, int], int]:
    ids = list(dict.fromkeys([r.item for r in parsed.interactions] + list(parsed.items)
                             + [i for _, i in parsed.reviews]))
    known = _existing(Product, ids)
    missing = [x for x in ids if x not in known]
    if not missing:
        return known, 0
    root, _ = Category.objects.get_or_create(slug="imported", defaults={"name": IMPORTED})
    column = _category_column(parsed.item_columns)
    categories, brands = {}, {}
    rows = []
    for x in missing:
        features = parsed.items.get(x, {})
        label = (features.get(column) or "").split("|")[0].strip() if column else ""
        rows.append(Product(
            external_id=x, title=(features.get("title") or f"Item {x}")[:200],
            description=features.get("description", ""),
            category=_category(categories, root, column, label) if label else root,
            brand=_brand(brands, features.get("brand", "")),
            price=_price(features.get("price")), stock=0,
        ))
    for p in Product.objects.bulk_create(rows, batch_size=2000):
        known[p.external_id] = p.pk
    return known, len(missing)


def _category(cache: dict, root: Category, column: str, label: str) -> Category:
    if label not in cache:
        slug = f"imported-{slugify(column)}-{slugify(label)}"[:140]
        cache[label], _ = Category.objects.get_or_create(slug=slug, defaults={"name": f"{column} {label}"[:120],
                                                                               "parent": root})
    return cache[label]


def _brand(cache: dict, name: str) -> Brand | None:
    name = name.split("|")[0].strip()
    if not name:
        return None
    if name not in cache:
        cache[name], _ = Brand.objects.get_or_create(name=name[:120], defaults={"slug": slugify(name)[:140] or
                                                      hashlib.sha1(name.encode()).hexdigest()[:12]})
    return cache[name]


def _price(value: str | None) -> Decimal:
    try:
        return Decimal(value).quantize(Decimal("0.01")) if value else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def _follows(parsed: Parsed, customers: dict[str, int]) -> int:
    pairs = list(dict.fromkeys((customers[a], customers[b]) for a, b in parsed.social))
    existing = set()
    followers = list({a for a, _ in pairs})
    for i in range(0, len(followers), CHUNK):
        existing.update(Follow.objects.filter(follower_id__in=followers[i:i + CHUNK])
                        .values_list("follower_id", "followee_id"))
    new = [Follow(follower_id=a, followee_id=b) for a, b in pairs if (a, b) not in existing]
    Follow.objects.bulk_create(new, batch_size=2000)
    return len(new)


def _events(parsed: Parsed, customers, products, source: str) -> int:
    keys = [r.key for r in parsed.interactions]
    done = set()
    for i in range(0, len(keys), CHUNK):
        done.update(Event.objects.filter(import_key__in=keys[i:i + CHUNK]).values_list("import_key", flat=True))
    new = [
        Event(type=EVENT_TYPES[r.event], customer_id=customers[r.user], product_id=products[r.item],
              timestamp=r.timestamp, import_key=r.key,
              metadata={k: v for k, v in (("rating", r.rating), ("weight", r.weight), ("source", source))
                        if v is not None})
        for r in parsed.interactions if r.key not in done
    ]
    # No per-event signal: the recommender learns imported history from the table on retraining.
    tracking.record_many(new, batch_size=2000, notify=False)
    return len(new)


def _reviews(parsed: Parsed, customers, products) -> int:
    ratings: dict[tuple[str, str], Row] = {}
    for r in parsed.interactions:
        if r.rating is not None:
            ratings[(r.user, r.item)] = r  # the latest rating of a pair wins
    pairs = list(dict.fromkeys(list(ratings) + list(parsed.reviews)))
    existing = set()
    ids = list({customers[u] for u, _ in pairs})
    for i in range(0, len(ids), CHUNK):
        existing.update(Review.objects.filter(customer_id__in=ids[i:i + CHUNK]).values_list("customer_id", "product_id"))
    new = []
    for user, item in pairs:
        key = (customers[user], products[item])
        if key in existing:
            continue
        text = parsed.reviews.get((user, item), "")
        sentiment = sentiment_of(text)
        row = ratings.get((user, item))
        # A review without a rating (R.csv only) gets the stars its sentiment implies.
        rating = row.rating if row else min(5, max(1, round(3 + 2 * sentiment)))
        review = Review(customer_id=key[0], product_id=key[1], rating=rating, text=text, sentiment=sentiment)
        if row:
            review.created = row.timestamp
        new.append(review)
    Review.objects.bulk_create(new, batch_size=2000)
    return len(new)
