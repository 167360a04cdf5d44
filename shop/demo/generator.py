"""The demo data generator behind `manage.py seed_demo`.

Deterministic for a seed (and a fixed `now`): every random draw comes from random.Random
instances seeded from `seed` (one per customer, so a customer's history does not depend on
who was generated before). Memory stays bounded at any size: customers, events, orders and
reviews are generated customer by customer and bulk-inserted in chunks; only ids and a few
numbers per customer/product are kept.

What a model can learn from it:
- tastes cluster: each customer belongs to a taste cluster (a few top categories) and has
  personal weights over them;
- the social graph has power-law in-degrees (preferential attachment) and homophily (most
  follows stay inside the taste cluster), and customers buy what their friends bought;
- sessions are sequential: a purchase leads on to complementary sub-categories
  (camera -> memory card -> camera bag), with a view -> cart -> purchase funnel that drops off;
- reviews' text and VADER sentiment agree with the rating;
- time has daily and weekly rhythm and mild growth over the D days.
"""
import bisect
import itertools
import math
import random
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ..models import Brand, Cart, Category, Customer, Event, Follow, Order, OrderLine, Product, Review
from ..sentiment import sentiment_of
from .catalog import CATALOG, COMPLEMENTS, FIRST_NAMES, LAST_NAMES, MODEL_WORDS, TASTES
from .reviews import review_text

CHUNK = 5000
EVENTS_PER_CUSTOMER = 75
HOUR_WEIGHTS = [0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 1.1,
                1.2, 1.1, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.0, 1.7, 1.1, 0.6]
WEEKDAY_WEIGHTS = [0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.25]  # Monday .. Sunday
MERCHANDISER = "merchandiser"
LEAF_COUNT = sum(len(subs) for _brands, _features, subs in CATALOG.values())


class StoreNotEmpty(Exception):
    pass


@dataclass
class Leaf:
    """A sub-category with its products, drawn by popularity (Zipf-like weights)."""

    category_id: int
    name: str
    nouns: list[str]
    products: list[int] = field(default_factory=list)  # indices into Catalogue lists
    cum_weights: list[float] = field(default_factory=list)

    def draw(self, rng: random.Random) -> int:
        return self.products[bisect.bisect(self.cum_weights, rng.random() * self.cum_weights[-1])]


@dataclass
class Catalogue:
    leaves: dict[str, Leaf]
    top_leaves: dict[str, list[str]]
    product_pk: array
    product_leaf: list[str]
    product_price: list[Decimal]
    product_quality: array
    product_noun: list[str]


def seed(customers: int = 2000, products: int = 1500, days: int = 90, seed: int = 42, progress=None,
         events: int | None = None, now: datetime | None = None, flush: bool = False) -> dict:
    """Fill the store with demo data; returns counts per table.

    `events` is the target event count (default 75 per customer). `now` is the end of the
    simulated period (default: the current hour). Refuses a store that already has customers
    or products unless `flush` (which deletes the shop's data first; staff users stay).
    """
    _check_sizes(customers=customers, products=products, days=days, events=events)
    now = now or timezone.now().replace(minute=0, second=0, microsecond=0)
    report = progress or (lambda info: None)
    with transaction.atomic():
        if flush:
            flush_store()
        elif Customer.objects.exists() or Product.objects.exists():
            raise StoreNotEmpty("the store already has customers or products (use flush=True / --flush)")
        counts = {"merchandiser": ensure_merchandiser()}
        catalogue = _make_catalogue(random.Random(seed), products, now, report)
        counts.update(categories=Category.objects.count(), brands=Brand.objects.count(), products=products)
        world = _World(seed, customers, catalogue, now, days, events or EVENTS_PER_CUSTOMER * customers, report)
        counts.update(world.run())
    return counts


def _check_sizes(**sizes) -> None:
    """Every size must be a whole number >= 1 (`events` may be None: the default)."""
    for name, value in sizes.items():
        if value is None and name == "events":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: must be a whole number of at least 1, got {value!r}")


def _leaves_in_use(n_products: int) -> list[tuple[str, str]]:
    """(top, leaf) pairs that get products: all of them, or for a small catalogue the first
    leaves of each top category in turn (so small stores still span many categories)."""
    columns = [[(top, sub) for sub in subs] for top, (_brands, _features, subs) in CATALOG.items()]
    if n_products >= LEAF_COUNT:
        return [pair for column in columns for pair in column]
    interleaved = [pair for row in itertools.zip_longest(*columns) for pair in row if pair is not None]
    return interleaved[:n_products]


def flush_store() -> None:
    """Delete every shop row (demo or imported); staff users and their accounts stay."""
    for model in (Event, Review, OrderLine, Order, Follow, Cart):
        model.objects.all().delete()
    User.objects.filter(customer__isnull=False, is_staff=False).delete()
    Customer.objects.all().delete()
    Product.objects.all().delete()
    Brand.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()


def ensure_merchandiser() -> str:
    """The demo staff account (login merchandiser / merchandiser) in the "merchandiser" group."""
    group, _ = Group.objects.get_or_create(name=MERCHANDISER)
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=["shop", "recommender"]))
    user, _ = User.objects.get_or_create(username=MERCHANDISER, defaults={"email": "merchandiser@example.com"})
    user.is_staff = True
    user.first_name, user.last_name = "Demo", "Merchandiser"
    user.set_password(MERCHANDISER)
    user.save()
    user.groups.add(group)
    return MERCHANDISER


# --- catalogue --------------------------------------------------------------------------


def _make_catalogue(rng: random.Random, n_products: int, now: datetime, report) -> Catalogue:
    leaves, top_leaves, brand_of = {}, {}, {}
    for top_name, sub_name in _leaves_in_use(n_products):  # categories only where products will be
        top_leaves.setdefault(top_name, []).append(sub_name)
    for top_name, sub_names in top_leaves.items():
        brands, _features, subs = CATALOG[top_name]
        top = Category.objects.create(name=top_name, slug=slugify(top_name),
                                      description=f"{top_name}: {', '.join(sub_names)}.")
        brand_of[top_name] = [Brand.objects.create(name=brand, slug=slugify(brand)) for brand in brands]
        for sub_name in sub_names:
            sub = Category.objects.create(name=sub_name, slug=slugify(sub_name), parent=top)
            leaves[sub_name] = Leaf(sub.pk, sub_name, subs[sub_name][0])

    leaf_names = list(leaves)
    top_of = {sub: top for top, subs in top_leaves.items() for sub in subs}
    start = now - timedelta(days=400)
    rows, meta = [], []
    for i in range(n_products):
        # Every leaf gets products; then round-robin keeps the catalogue balanced.
        leaf_name = leaf_names[i % len(leaf_names)] if i < len(leaf_names) * 2 else rng.choice(leaf_names)
        top_name = top_of[leaf_name]
        brands, features, subs = CATALOG[top_name]
        nouns, (low, high) = subs[leaf_name]
        brand, noun = rng.choice(brand_of[top_name]), rng.choice(nouns)
        quality = rng.betavariate(5, 2)  # most products are decent, a few are bad
        price = Decimal(str(round(math.exp(rng.uniform(math.log(low), math.log(high)))))) - Decimal("0.01")
        title = f"{brand.name} {_capitalized(noun)} {rng.choice(MODEL_WORDS)} {rng.randint(1, 9)}{rng.choice('005')}"
        picked = rng.sample(features, 2)
        description = (f"The {title} is a {'premium' if quality > 0.8 else 'reliable'} {noun} from {brand.name}. "
                       f"Features: {picked[0]} and {picked[1]}. A great pick for {leaf_name.lower()}.")
        rows.append(Product(
            title=title[:200], description=description, category_id=leaves[leaf_name].category_id, brand=brand,
            price=max(price, Decimal("0.99")), stock=0 if rng.random() < 0.04 else rng.randint(3, 250),
            created=start + timedelta(seconds=rng.randint(0, 300 * 86400)),
        ))
        meta.append((leaf_name, quality, noun))
    product_pk, prices = array("q"), []
    for offset in range(0, len(rows), CHUNK):
        for p in Product.objects.bulk_create(rows[offset:offset + CHUNK]):
            product_pk.append(p.pk)
            prices.append(p.price)
        report({"stage": "products", "done": len(product_pk), "total": n_products})

    # Popularity inside each leaf is Zipf-like over a random order of its products.
    for index, (leaf_name, _q, _n) in enumerate(meta):
        leaves[leaf_name].products.append(index)
    for leaf in leaves.values():
        rng.shuffle(leaf.products)
        leaf.cum_weights = list(itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(leaf.products))))
    return Catalogue(leaves, top_leaves, product_pk, [m[0] for m in meta], prices,
                     array("d", (m[1] for m in meta)), [m[2] for m in meta])


def _capitalized(noun: str) -> str:
    """"microSD card" -> "MicroSD Card" (str.title() would give "Microsd Card")."""
    return " ".join(word[:1].upper() + word[1:] for word in noun.split())


# --- customers, follows, sessions ---------------------------------------------------------


class _World:
    def __init__(self, seed_value, n_customers, catalogue: Catalogue, now, days, target_events, report):
        self.seed, self.n, self.cat, self.now, self.days = seed_value, n_customers, catalogue, now, days
        # Whole days ending at today's midnight, so the hour-of-day rhythm lands on real hours.
        self.start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
        self.report = report
        rng = random.Random(seed_value * 7919 + 1)
        self.cluster = bytearray(rng.randrange(len(TASTES)) for _ in range(n_customers))
        # Heavy-tailed activity (a few customers do a lot) and influence (a few are followed by many).
        activity = [min(rng.paretovariate(1.6), 60.0) for _ in range(n_customers)]
        scale = target_events / sum(activity)
        self.budget = array("l", (max(3, round(a * scale)) for a in activity))
        self.influence = [rng.paretovariate(1.2) for _ in range(n_customers)]
        day_weights = [(1 + 0.5 * d / days) * WEEKDAY_WEIGHTS[(self.start + timedelta(days=d)).weekday()]
                       for d in range(days)]
        self.day_cum = list(itertools.accumulate(day_weights))
        self.hour_cum = list(itertools.accumulate(HOUR_WEIGHTS))
        self.customer_pk = array("q")
        self.friends: list[array] = []
        self.recent_buys: list[array] = [array("l") for _ in range(n_customers)]
        self.buffers = _Buffers(report)

    def run(self) -> dict:
        self._create_customers()
        self._create_follows()
        for i in range(self.n):
            self._simulate_customer(i)
            self.buffers.maybe_flush()
        self.buffers.flush()
        self._write_counters()
        return self.buffers.counts | {"customers": self.n}

    def _rng(self, i: int, salt: int) -> random.Random:
        return random.Random((self.seed * 1_000_003 + i) * 31 + salt)

    def _moment(self, rng: random.Random, after: datetime | None = None) -> datetime:
        day = bisect.bisect(self.day_cum, rng.random() * self.day_cum[-1])
        hour = bisect.bisect(self.hour_cum, rng.random() * self.hour_cum[-1])
        moment = self.start + timedelta(days=day, hours=hour, seconds=rng.randint(0, 3599))
        return max(moment, after) if after else moment

    def _create_customers(self) -> None:
        for offset in range(0, self.n, CHUNK):
            users, profiles = [], []
            for i in range(offset, min(offset + CHUNK, self.n)):
                rng = self._rng(i, 1)
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                username = f"{first}.{last}.{i + 1}".lower()
                users.append(User(username=username, first_name=first, last_name=last, password="!demo",
                                  email=f"{username}@example.com"))
                profiles.append(Customer(
                    display_name=f"{first} {last}", email=f"{username}@example.com",
                    marketing_opt_in=(i % 9 != 4) and rng.random() < 0.9,
                    joined=self.start - timedelta(days=rng.uniform(1, 700)),
                ))
            for user, profile in zip(User.objects.bulk_create(users), profiles):
                profile.user = user
            self.customer_pk.extend(c.pk for c in Customer.objects.bulk_create(profiles))
            self.report({"stage": "customers", "done": len(self.customer_pk), "total": self.n})

    def _create_follows(self) -> None:
        """Preferential attachment by influence, 80% inside the taste cluster (homophily)."""
        members = [[] for _ in TASTES]
        for i, c in enumerate(self.cluster):
            members[c].append(i)
        cum = [list(itertools.accumulate(self.influence[i] for i in group)) for group in members]
        everyone = list(itertools.accumulate(self.influence))
        for i in range(self.n):
            rng = self._rng(i, 2)
            wanted = min(int(2 * rng.paretovariate(1.6)), 150, self.n - 1)
            chosen: set[int] = set()
            for _ in range(wanted * 3):
                if len(chosen) >= wanted:
                    break
                if rng.random() < 0.8 and len(members[self.cluster[i]]) > 1:
                    group, weights = members[self.cluster[i]], cum[self.cluster[i]]
                else:
                    group, weights = range(self.n), everyone
                j = group[bisect.bisect(weights, rng.random() * weights[-1])]
                if j != i:
                    chosen.add(j)
            self.friends.append(array("l", sorted(chosen)))
            for j in sorted(chosen):
                when = self._moment(rng)
                self.buffers.add_follow(Follow(follower_id=self.customer_pk[i], followee_id=self.customer_pk[j],
                                               created=when))
                self.buffers.add_event(Event(type=Event.Type.FOLLOW, customer_id=self.customer_pk[i],
                                             session_key=f"f{i}", timestamp=when,
                                             metadata={"followee": self.customer_pk[j], "action": "follow"}))
                self.budget[i] -= 1
            self.buffers.maybe_flush()

    def _taste(self, i: int, rng: random.Random) -> tuple[list[str], list[float]]:
        tops = list(self.cat.top_leaves)  # a small store has only some of the catalogue's tops
        liked = TASTES[self.cluster[i]]
        weights = [rng.gammavariate(1.0, 1.0) * (6.0 if t in liked else 0.15) for t in tops]
        return tops, list(itertools.accumulate(weights))

    def _simulate_customer(self, i: int) -> None:
        rng = self._rng(i, 3)
        tops, cum = self._taste(i, rng)
        reviewed: set[int] = set()
        emitted = 0
        while emitted < self.budget[i]:
            top = tops[bisect.bisect(cum, rng.random() * cum[-1])]
            emitted += self._session(i, rng, top, reviewed)

    def _session(self, i: int, rng: random.Random, top: str, reviewed: set[int]) -> int:
        """One visit: browse a leaf, maybe buy, follow complements; returns events emitted."""
        customer = self.customer_pk[i]
        anonymous = rng.random() < 0.06  # browsing logged out: views and searches only
        session = f"s{self.seed}-{i}-{rng.getrandbits(40):010x}"
        t = self._moment(rng)
        events, purchases = [], []

        def emit(type_, product=None, **extra):
            nonlocal t
            t = t + timedelta(seconds=rng.randint(15, 240))
            events.append(Event(type=type_, customer_id=None if anonymous else customer, session_key=session,
                                product_id=self.cat.product_pk[product] if product is not None else None,
                                timestamp=min(t, self.now), **extra))

        leaves = self.cat.top_leaves[top]
        # Start where a chain starts (cameras before camera bags) more often than not.
        anchors = [name for name in leaves if name in COMPLEMENTS] or leaves
        leaf = self.cat.leaves[rng.choice(anchors if rng.random() < 0.7 else leaves)]
        if rng.random() < 0.25:
            emit(Event.Type.SEARCH, query=rng.choice(leaf.nouns))
        friend_pick = self._friend_purchase(i, rng) if rng.random() < 0.2 else None
        for step in range(4):  # the anchor, then up to three complements
            viewed = [leaf.draw(rng) for _ in range(1 + min(int(rng.expovariate(0.7)), 5))]
            if step == 0 and friend_pick is not None:
                viewed.append(friend_pick)
            for product in viewed:
                emit(Event.Type.VIEW, product)
            if anonymous:
                break
            choice = viewed[-1]
            if rng.random() > (0.35 if step == 0 else 0.55):
                break
            emit(Event.Type.ADD_TO_CART, choice, metadata={"quantity": 1})
            if rng.random() > 0.6:
                if rng.random() < 0.35:
                    emit(Event.Type.REMOVE_FROM_CART, choice)
                break
            purchases.append(choice)
            leaf = self.cat.leaves[self.cat.product_leaf[choice]]  # a friend's pick may be from elsewhere
            next_leaves = [name for name in COMPLEMENTS.get(leaf.name, []) if name in self.cat.leaves]
            if not next_leaves or rng.random() > 0.65:
                break
            leaf = self.cat.leaves[next_leaves[0] if rng.random() < 0.6 else rng.choice(next_leaves)]
        if purchases:
            self._order(i, rng, session, events, purchases, t, reviewed)
        for event in events:
            self.buffers.add_event(event)
        return len(events)

    def _friend_purchase(self, i: int, rng: random.Random) -> int | None:
        bought = [p for j in self.friends[i] for p in self.recent_buys[j]]
        return rng.choice(bought) if bought else None

    def _order(self, i, rng, session, events, purchases, t, reviewed) -> None:
        order = Order(customer_id=self.customer_pk[i], created=min(t, self.now), status=Order.Status.PAID,
                      payment_reference=f"DEMO-{rng.getrandbits(48):012X}")
        lines = []
        for product in dict.fromkeys(purchases):  # unique, in purchase order
            price = self.cat.product_price[product]
            quantity = 2 if rng.random() < 0.08 else 1
            lines.append(OrderLine(product_id=self.cat.product_pk[product], quantity=quantity, unit_price=price))
            purchase = Event(type=Event.Type.PURCHASE, customer_id=self.customer_pk[i], session_key=session,
                             product_id=self.cat.product_pk[product], timestamp=order.created,
                             metadata={"quantity": quantity, "unit_price": str(price)})
            events.append(purchase)
            self.buffers.link_purchase(purchase, order)
            recent = self.recent_buys[i]
            recent.append(product)
            if len(recent) > 5:
                recent.pop(0)
            if product not in reviewed and rng.random() < 0.18:
                self._review(i, rng, product, order.created, events)
                reviewed.add(product)
        order.total = sum((line.subtotal for line in lines), Decimal("0"))
        self.buffers.add_order(order, lines)

    def _review(self, i, rng, product, bought_at, events) -> None:
        when = bought_at + timedelta(days=rng.uniform(1, 14))
        if when > self.now:
            return
        # Quality drives the rating; personal taste adds noise.
        score = 1 + 4 * self.cat.product_quality[product] + rng.gauss(0, 0.7)
        rating = min(5, max(1, round(score)))
        text = review_text(rating, self.cat.product_noun[product], rng.randrange(10))
        review = Review(customer_id=self.customer_pk[i], product_id=self.cat.product_pk[product], rating=rating,
                        text=text, sentiment=_sentiment(text), created=when)
        self.buffers.add_review(review)
        events.append(Event(type=Event.Type.REVIEW, customer_id=self.customer_pk[i], session_key=f"r{i}",
                            product_id=review.product_id, timestamp=when,
                            metadata={"rating": rating, "sentiment": round(review.sentiment, 4)}))

    def _write_counters(self) -> None:
        counts = self.buffers.product_counts
        updates = []
        for pk, (views, carts, buys) in counts.items():
            updates.append(Product(pk=pk, view_count=views, cart_count=carts, purchase_count=buys))
        for offset in range(0, len(updates), 1000):
            Product.objects.bulk_update(updates[offset:offset + 1000],
                                        ["view_count", "cart_count", "purchase_count"])


_sentiment_cache: dict[str, float] = {}


def _sentiment(text: str) -> float:
    if text not in _sentiment_cache:
        _sentiment_cache[text] = sentiment_of(text)
    return _sentiment_cache[text]


class _Buffers:
    """Rows waiting for a bulk insert, written in dependency order; plus running counts."""

    COUNTED = {Event.Type.VIEW: 0, Event.Type.ADD_TO_CART: 1, Event.Type.PURCHASE: 2}

    def __init__(self, report):
        self.report = report
        self.events, self.follows, self.reviews, self.orders = [], [], [], []
        self.purchase_links: list[tuple[Event, Order]] = []
        self.counts = {"events": 0, "follows": 0, "orders": 0, "order_lines": 0, "reviews": 0}
        self.product_counts: dict[int, list[int]] = {}

    def add_event(self, event: Event) -> None:
        self.events.append(event)
        slot = self.COUNTED.get(event.type)
        if slot is not None:
            self.product_counts.setdefault(event.product_id, [0, 0, 0])[slot] += 1

    def add_follow(self, follow: Follow) -> None:
        self.follows.append(follow)

    def add_review(self, review: Review) -> None:
        self.reviews.append(review)

    def add_order(self, order: Order, lines: list[OrderLine]) -> None:
        self.orders.append((order, lines))

    def link_purchase(self, event: Event, order: Order) -> None:
        self.purchase_links.append((event, order))

    def maybe_flush(self) -> None:
        if len(self.events) >= CHUNK or len(self.follows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.orders:
            Order.objects.bulk_create([order for order, _ in self.orders], batch_size=1000)
            lines = []
            for order, order_lines in self.orders:
                for line in order_lines:
                    line.order = order
                    lines.append(line)
            OrderLine.objects.bulk_create(lines, batch_size=1000)
            self.counts["orders"] += len(self.orders)
            self.counts["order_lines"] += len(lines)
        for event, order in self.purchase_links:
            event.metadata["order"] = order.pk
        Follow.objects.bulk_create(self.follows, batch_size=2000)
        Review.objects.bulk_create(self.reviews, batch_size=1000)
        Event.objects.bulk_create(self.events, batch_size=2000)
        self.counts["follows"] += len(self.follows)
        self.counts["reviews"] += len(self.reviews)
        self.counts["events"] += len(self.events)
        self.report({"stage": "events", "done": self.counts["events"]})
        self.events, self.follows, self.reviews, self.orders, self.purchase_links = [], [], [], [], []

