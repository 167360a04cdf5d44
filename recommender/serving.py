"""What fills a recommendation widget, in real time.

`recommend()`: the customer's materialized top-N (recommender.tasks.score_customers) →
re-ranked with the model's sequence state advanced (`Recommender.step`) over the views and
carts recorded since materialization, so a click changes the next page without a retrain →
merchandising rules → drop out-of-stock, inactive and already purchased products →
trending fills any gap. Visitors the model does not know get "session" recommendations
from their session's views, new customers with follows get "friends" (cold start through
the social graph), everyone else trending. Every result says which source served it and,
when it is a fallback, why.
"""
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.utils.dateparse import parse_datetime

from shop.models import Customer, Event, Follow, Product

from . import trending as trending_mod
from .active_model import LoadedModel, active_model
from .local_cache import TTLMap
from .models import MerchandisingRule, ModelVersion, Recommendation
from .rules import Candidate, ProductFacts, apply_rules, category_ancestors, live_rules

logger = logging.getLogger(__name__)

WIDGETS = ("home", "trending", "also_bought", "similar", "cart", "search")
PERSONAL_WIDGETS = ("home", "cart", "search")
MAX_N = 50
# How many of the session's latest views/carts advance the sequence state.
RECENT_EVENTS = 20
CANDIDATES = 60
SESSION_EVENT_TYPES = (Event.Type.VIEW, Event.Type.ADD_TO_CART)
# Co-purchases read the latest buyers only (a bestseller on a big store has tens of thousands)
# and are kept in the shared cache: they change slowly, and product pages ask for them a lot.
CO_PURCHASE_BUYERS = 500
CO_PURCHASE_CACHE_SECONDS = 600

# At most this many events since the materialization are read per request (the latest
# RECENT_EVENTS views/carts re-rank, every purchase among them is dropped from the list).
RECENT_SCAN = 200


def materialized_cache_seconds() -> float:
    """How long a web process reuses a customer's row, materialized list and purchases from
    before it, instead of reading them again (RECOMMENDER_MATERIALIZED_CACHE_SECONDS; 0: every
    request reads them). Keeping them a while is safe: every request still reads the events
    recorded since the list's own `created` time, so a click re-ranks and a purchase drops out
    at once however old the cached list is. What waits up to this long in other processes is
    a newer materialization of the same version (refresh_customer after a purchase or follow);
    a newly activated version is served at once (the version is part of the key)."""
    return float(getattr(settings, "RECOMMENDER_MATERIALIZED_CACHE_SECONDS", 60))


# Per process, a few seconds: what every request reads (see local_cache).
_facts_cache = TTLMap()
_products_cache = TTLMap()
# Per process, longer (materialized_cache_seconds): customer rows (the API reads pk and user),
# compact materialized lists and purchase sets, a few kB a customer.
_customers_cache = TTLMap(max_entries=20_000, seconds=materialized_cache_seconds)
_materialized_cache = TTLMap(max_entries=20_000, seconds=materialized_cache_seconds)
_purchases_cache = TTLMap(max_entries=20_000, seconds=materialized_cache_seconds)


@dataclass
class Recommended:
    product: Product
    score: float
    rank: int
    explanation: dict
    source: str


@dataclass
class RecommendationResult:
    widget: str
    source: str  # "model:<id>" | "friends" | "session" | "trending" | "co-purchase"
    items: list[Recommended] = field(default_factory=list)
    reason: str = ""  # why a fallback served, e.g. "model:7 artifact unavailable (...)"

    @property
    def product_ids(self) -> list[int]:
        return [item.product.pk for item in self.items]


def validate(widget: str, n) -> tuple[str, int]:
    """(widget, n) or ValueError naming the field: callers turn it into a 400."""
    if widget not in WIDGETS:
        raise ValueError(f"widget: must be one of {', '.join(WIDGETS)}")
    try:
        n = int(n)
    except (TypeError, ValueError):
        raise ValueError("n: must be an integer") from None
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n: must be between 1 and {MAX_N}")
    return widget, n


# ------------------------------------------------------------------ entry points

def recommend(
    customer=None,
    session_key: str = "",
    widget: str = "home",
    n: int = 8,
    hypothetical_views: Sequence[int] = (),
    product: Product | None = None,
    exclude: Iterable[int] = (),
    rules: list[MerchandisingRule] | None = None,
) -> RecommendationResult:
    widget, n = validate(widget, n)
    loaded = active_model()
    excluded = set(exclude) | ({product.pk} if product is not None else set())
    state = purchased = None
    if widget in PERSONAL_WIDGETS:
        if widget == "cart":
            cart_items = cart_product_ids(customer, session_key)
            hypothetical_views = [*cart_items, *hypothetical_views]
            excluded |= set(cart_items)
        candidates, source, reason, state, purchased = _personal(loaded, customer, session_key, hypothetical_views)
    elif widget in ("also_bought", "similar") and product is not None:
        candidates, source, reason = _related_candidates(loaded, product, co_purchase_first=widget == "also_bought")
    else:
        candidates, source, reason = [], "trending", "" if widget == "trending" else "no product given"
    if rules is None:
        rules = live_rules(widget)
    return _finish(candidates, source, reason, widget, n, customer, excluded, rules, loaded, state, purchased)


def related(product: Product, n: int = 8, customer=None) -> RecommendationResult:
    """Item-to-item: the model's item vectors blended with co-purchase counts."""
    return recommend(customer=customer, widget="similar", n=n, product=product)


def what_if(customer, product_ids: Sequence[int], n: int = 8) -> RecommendationResult:
    """The customer's home list if they viewed `product_ids` now (nothing is recorded)."""
    return recommend(customer=customer, widget="home", n=n, hypothetical_views=list(product_ids))


def preview_rules(customer, rules: list[MerchandisingRule], n: int = 8, widget: str = "home") -> RecommendationResult:
    """The list as it would look under `rules` (saved or not) instead of the live ones."""
    return recommend(customer=customer, widget=widget, n=n, rules=list(rules))


def top_customers_for_product(product: Product, n: int = 20) -> list[tuple[object, float]]:
    """[(Customer, score)]: who the active model thinks most likely to buy `product`."""
    from shop.models import Customer

    loaded = active_model()
    if loaded is None or not loaded.ok:
        return []
    scored = loaded.recommender.user_scores_for_item(str(product.pk), k=n)
    customers = Customer.objects.in_bulk([int(uid) for uid, _ in scored])
    return [(customers[int(uid)], float(score)) for uid, score in scored if int(uid) in customers]


def rerank_products(customer, session_key: str, products: Sequence[Product]) -> list[Product]:
    """Personalized order of a fixed list (search results); unchanged without a model."""
    loaded = active_model()
    if loaded is None or not loaded.ok or not products:
        return list(products)
    state = _session_state(loaded, customer, session_key, (), since=None)
    order = loaded.recommender.rerank(state, [str(p.pk) for p in products])
    position = {int(item_id): i for i, (item_id, _) in enumerate(order)}
    return sorted(products, key=lambda p: position.get(p.pk, len(position)))


# ------------------------------------------------------------------ candidate sources

def _personal(loaded: LoadedModel | None, customer, session_key, hypothetical_views):
    """(candidates, source, reason, session state or None, purchased product ids or None when
    not read yet)."""
    if loaded is None:
        return [], "trending", "no active model", None, None
    if not loaded.ok:
        return [], "trending", f"{loaded.label} {loaded.error}", None, None
    rec = loaded.recommender
    uid = str(customer.pk) if customer is not None else None
    rows = materialized(customer, loaded.version_id) if customer is not None else []
    if rows:
        since = rows[0][3]
        # The one per-click read: views, carts and purchases since the list was materialized.
        recent, bought = events_since(customer, session_key, since)
        purchased = purchased_before(customer, since) | bought
        recent += list(hypothetical_views)
        if not recent:
            candidates = [Candidate(pid, score, expl, loaded.label) for pid, score, expl, _ in rows]
            return candidates, loaded.label, "", None, purchased
        state = _advance(rec, rec.session(uid), recent)
        fresh = [item for item, _ in rec.score_session(state, k=CANDIDATES)]
        # Like the model's own scoring, items seen in this session are masked: the shopper
        # has just looked at them, the list moves on to what they suggest next.
        seen = {str(pid) for pid in recent}
        pool = [item for item in dict.fromkeys([str(pid) for pid, *_ in rows] + fresh) if item not in seen]
        # Explanations are recomputed from the advanced state (explain_session) when served.
        reranked = [Candidate(int(item), float(score), None, loaded.label) for item, score in rec.rerank(state, pool)]
        return reranked, loaded.label, "", state, purchased
    since = loaded_taken_at(loaded)
    if uid is not None and rec.has_user(uid):
        state = _session_state(loaded, customer, session_key, hypothetical_views, since)
        return _scored(rec, state, loaded.label), loaded.label, "", state, None
    if customer is not None:
        friends = [str(f) for f in Follow.objects.filter(follower=customer).values_list("followee_id", flat=True)]
        known_friends = [f for f in friends if rec.has_user(f)]
        if known_friends:
            scored = rec.cold_start(known_friends, k=CANDIDATES)
            if scored:
                return [Candidate(int(i), float(s), None, "friends") for i, s in scored], "friends", "", None, None
    recent = recent_product_ids(customer, session_key, since) + list(hypothetical_views)
    if recent:  # a visitor the model does not know, but whose clicks it can read
        state = _advance(rec, rec.session(None), recent)
        candidates = _scored(rec, state, "session")
        if candidates:
            return candidates, "session", "", state, None
    return [], "trending", "nothing known about this visitor yet", None, None


def _related_candidates(loaded, product: Product, co_purchase_first: bool):
    co = co_purchase_counts(product.pk)
    model_scores = []
    if loaded is not None and loaded.ok:
        model_scores = loaded.recommender.similar_items(str(product.pk), k=CANDIDATES)
    if not co and not model_scores:
        reason = "no co-purchases and no model" if loaded is None or not loaded.ok else "nothing related yet"
        return [], "trending", reason
    # Both normalized to [0, 1]; "also bought" leans on co-purchase, "similar" on the vectors.
    weight = 0.7 if co_purchase_first else 0.3
    top_co = max(co.values(), default=1)
    blended: dict[int, float] = {pid: weight * count / top_co for pid, count in co.items()}
    if model_scores:
        values = [s for _, s in model_scores]
        low, span = min(values), (max(values) - min(values)) or 1.0
        for item, score in model_scores:
            pid = int(item)
            blended[pid] = blended.get(pid, 0.0) + (1 - weight) * (score - low) / span
    source = loaded.label if model_scores else "co-purchase"
    ranked = sorted(blended.items(), key=lambda kv: (-kv[1], kv[0]))
    name = product.title
    text = {pid: f"Often bought with {name}" if pid in co else f"Similar to {name}" for pid, _ in ranked}
    return [Candidate(pid, s, {"text": text[pid]}, source) for pid, s in ranked], source, ""


def _scored(rec, state, source: str) -> list[Candidate]:
    return [Candidate(int(item), float(score), None, source) for item, score in rec.score_session(state, k=CANDIDATES)]


def _advance(rec, state, product_ids):
    for pid in product_ids:
        state = rec.step(state, str(pid))
    return state


def _session_state(loaded, customer, session_key, hypothetical_views, since):
    rec = loaded.recommender
    uid = str(customer.pk) if customer is not None else None
    recent = recent_product_ids(customer, session_key, since) + list(hypothetical_views)
    return _advance(rec, rec.session(uid), recent)


def loaded_taken_at(loaded: LoadedModel):
    """When the active version's snapshot was taken (events after it are 'recent')."""
    key = f"recommender:taken_at:{loaded.version_id}"
    value = cache.get(key)
    if value is None:
        stats = ModelVersion.objects.filter(pk=loaded.version_id).values_list("snapshot_stats", flat=True).first()
        value = (stats or {}).get("taken_at") or ""
        cache.set(key, value, 3600)
    return parse_datetime(value) if value else None


# ------------------------------------------------------------------ database reads

def materialized(customer, version_id: int) -> list[tuple[int, float, None, object]]:
    """[(product_id, score, None, created)] by rank for this version; the explanations are
    read later, only for the few items actually served (materialized_explanations).
    Kept per process for materialized_cache_seconds (see there why that is safe)."""
    key = (customer.pk, version_id)
    created, product_ids, scores = _materialized_cache.get(key, lambda: _read_materialized(*key))
    if not product_ids:
        _materialized_cache.discard(key)  # not scored yet: their first list is served as soon as it exists
    return [(pid, score, None, created) for pid, score in zip(product_ids, scores)]


def _read_materialized(customer_id: int, version_id: int) -> tuple:
    """(created, product ids, scores) by rank: compact, for the per-process cache."""
    rows = list(Recommendation.objects.filter(customer_id=customer_id, model_version_id=version_id)
                .order_by("rank").values_list("product_id", "score", "created"))
    if not rows:
        return None, (), ()
    return rows[0][2], tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def materialized_explanations(customer, version_id: int, product_ids: list[int]) -> dict[int, dict]:
    rows = Recommendation.objects.filter(customer=customer, model_version_id=version_id, product_id__in=product_ids)
    return {pid: explanation for pid, explanation in rows.order_by().values_list("product_id", "explanation")}


@functools.cache
def _event_sql_names(vendor: str) -> tuple[str, dict[str, str]]:
    """The event table's and columns' quoted names for this database (vendor: the cache key)."""
    quote = connection.ops.quote_name
    return quote(Event._meta.db_table), {name: quote(Event._meta.get_field(name).column)
                                         for name in ("customer", "session_key", "type", "product", "timestamp", "id")}


def _latest_events(customer, session_key: str, since, types, limit: int) -> list[tuple[str, int]]:
    """(type, product_id) of the latest `limit` events of these types with a product, of this
    customer or session after `since` (None: ever), newest first; none when there is neither
    customer nor session.

    Plain SQL (the column names from the model's meta) rather than the ORM: this read runs on
    every personalized request, and building the equivalent queryset and compiling it cost
    Django ~2 ms a request against ~0.1 ms for the query itself (bench/serving_profile.py).
    It is the query the ORM built, served by the (customer, timestamp) and (session_key,
    timestamp) indexes.
    """
    table, column = _event_sql_names(connection.vendor)
    who, params = [], []
    if customer is not None:
        who.append(f"{column['customer']} = %s")
        params.append(customer.pk)
    if session_key:
        who.append(f"{column['session_key']} = %s")
        params.append(session_key)
    if not who:
        return []
    sql = (f"SELECT {column['type']}, {column['product']} FROM {table} "
           f"WHERE ({' OR '.join(who)}) AND {column['type']} IN ({', '.join(['%s'] * len(types))}) "
           f"AND {column['product']} IS NOT NULL")
    params.extend(str(t) for t in types)
    if since is not None:
        sql += f" AND {column['timestamp']} > %s"
        params.append(connection.ops.adapt_datetimefield_value(since))
    sql += f" ORDER BY {column['timestamp']} DESC, {column['id']} DESC LIMIT %s"
    params.append(int(limit))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def recent_product_ids(customer, session_key: str, since) -> list[int]:
    """The latest views/carts of this customer or session after `since`, oldest first."""
    rows = _latest_events(customer, session_key, since, SESSION_EVENT_TYPES, RECENT_EVENTS)
    return [product_id for _, product_id in rows][::-1]


def events_since(customer, session_key: str, since) -> tuple[list[int], set[int]]:
    """(the latest RECENT_EVENTS views/carts after `since`, oldest first; the products bought
    after `since`) of this customer or session, in one indexed read of at most RECENT_SCAN rows."""
    rows = _latest_events(customer, session_key, since, (*SESSION_EVENT_TYPES, Event.Type.PURCHASE), RECENT_SCAN)
    recent, bought = [], set()
    for kind, product_id in rows:
        if kind == Event.Type.PURCHASE:
            bought.add(product_id)
        elif len(recent) < RECENT_EVENTS:
            recent.append(product_id)
    return recent[::-1], bought


def purchased_before(customer, since) -> frozenset[int]:
    """What the customer had bought when their list was materialized at `since` (read after
    `since`, so it covers everything up to then; events_since adds the later purchases).
    Kept per process for materialized_cache_seconds: the past does not change."""
    return _purchases_cache.get((customer.pk, since), lambda: frozenset(purchased_product_ids(customer)))


def purchased_product_ids(customer) -> set[int]:
    if customer is None:
        return set()
    # order_by(): without the model's default ordering the (customer, timestamp) index serves it.
    purchases = Event.objects.filter(customer=customer, type=Event.Type.PURCHASE).order_by()
    return set(purchases.values_list("product_id", flat=True))


def cart_product_ids(customer, session_key: str) -> list[int]:
    from shop.models import CartLine

    who = Q(cart__customer=customer) if customer is not None else Q(cart__session_key=session_key)
    if customer is None and not session_key:
        return []
    return list(CartLine.objects.filter(who, cart__checked_out=False).values_list("product_id", flat=True))


def co_purchase_counts(product_id: int, limit: int = CANDIDATES) -> dict[int, int]:
    """Other products bought by the latest buyers of this one: {product_id: buyers} (cached)."""
    key = f"recommender:co-purchase:{product_id}:{limit}"
    counts = cache.get(key)
    if counts is None:
        counts = _count_co_purchases(product_id, limit)
        cache.set(key, counts, CO_PURCHASE_CACHE_SECONDS)
    return counts


def _count_co_purchases(product_id: int, limit: int) -> dict[int, int]:
    # Both reads are bounded by indexes: (product, type, timestamp) for the latest buyers,
    # (customer, timestamp) for what those buyers bought.
    buyers = (
        Event.objects.filter(type=Event.Type.PURCHASE, product_id=product_id, customer__isnull=False)
        .order_by("-timestamp").values_list("customer_id", flat=True)[:CO_PURCHASE_BUYERS]
    )
    buyer_ids = set(buyers)
    if not buyer_ids:
        return {}
    rows = (
        Event.objects.filter(type=Event.Type.PURCHASE, customer_id__in=buyer_ids)
        .exclude(product_id=product_id)
        .values("product_id")
        .annotate(buyers=Count("customer_id", distinct=True))
        .order_by("-buyers", "product_id")[:limit]
    )
    return {row["product_id"]: row["buyers"] for row in rows}


def product_facts(product_ids: Iterable[int]) -> dict[int, ProductFacts]:
    return _facts_cache.get_many(set(product_ids), _read_product_facts)


def _read_product_facts(product_ids: list[int]) -> dict[int, ProductFacts]:
    chains = cache.get("recommender:category-chains")
    if chains is None:
        chains = category_ancestors()
        cache.set("recommender:category-chains", chains, 300)
    rows = Product.objects.filter(pk__in=product_ids).values_list("pk", "brand_id", "category_id", "active", "stock")
    return {
        pk: ProductFacts(brand, chains.get(category, (category,)), bool(active and stock > 0))
        for pk, brand, category, active, stock in rows
    }


def customer_by_id(customer_id: int):
    """The Customer (None when there is none), kept per process like their materialized list."""
    customer = _customers_cache.get(customer_id, lambda: Customer.objects.filter(pk=customer_id).first())
    if customer is None:
        _customers_cache.discard(customer_id)
    return customer


def products_by_id(product_ids: Iterable[int]) -> dict[int, Product]:
    """The products with brand and category, as widgets and the API show them."""
    return _products_cache.get_many(
        list(product_ids), lambda missing: Product.objects.select_related("brand", "category").in_bulk(missing)
    )


def forget() -> None:
    """Drop this process's cached product facts and rows, customers, materialized lists and
    purchases (tests, bulk catalogue edits)."""
    for memo in (_facts_cache, _products_cache, _customers_cache, _materialized_cache, _purchases_cache):
        memo.clear()


# ------------------------------------------------------------------ assembling the answer

def _finish(candidates, source, reason, widget, n, customer, excluded, rules, loaded, state,
            purchased=None) -> RecommendationResult:
    pinned = [r.product_id for r in rules if r.action == MerchandisingRule.Action.PIN and r.product_id]
    facts = product_facts([c.product_id for c in candidates] + pinned)
    candidates = apply_rules(candidates, rules, facts)
    dropped = excluded | (purchased if purchased is not None else purchased_product_ids(customer))
    chosen = [c for c in candidates if c.product_id not in dropped and facts.get(c.product_id, _UNSELLABLE).sellable]
    chosen = _unique(chosen)[:n]
    if len(chosen) < n:
        taken = dropped | {c.product_id for c in chosen}
        # Trending is already sellable (as of its cache); a few spares cover rules that drop some.
        fill = [Candidate(pid, s, None, "trending") for pid, s in trending_mod.trending() if pid not in taken]
        fill = fill[: 3 * n + len(rules)]
        chosen += apply_rules(fill, rules, product_facts([c.product_id for c in fill]))[: n - len(chosen)]
        if not candidates:
            source = "trending"
    products = products_by_id([c.product_id for c in chosen])
    stored = {}
    if state is None and customer is not None and loaded is not None and loaded.ok:
        from_rows = [c.product_id for c in chosen if c.explanation is None and c.source == loaded.label]
        stored = materialized_explanations(customer, loaded.version_id, from_rows) if from_rows else {}
    chosen = [c for c in chosen if c.product_id in products]
    explained = _explain(loaded, customer, state,
                         [c for c in chosen if not (c.explanation or stored.get(c.product_id))])
    items = []
    for c in chosen:
        explanation = c.explanation or stored.get(c.product_id) or explained[c.product_id]
        items.append(Recommended(products[c.product_id], c.score, len(items) + 1, explanation, c.source or source))
    return RecommendationResult(widget=widget, source=source, items=items, reason=reason)


_UNSELLABLE = ProductFacts(None, (), False)


def _unique(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[int] = set()
    return [c for c in candidates if not (c.product_id in seen or seen.add(c.product_id))]


def _explain(loaded, customer, state, candidates: list[Candidate]) -> dict[int, dict]:
    """product id -> the model's own explanation for each item it ranked (all of them in one
    pass over the session); trending items say so plainly."""
    out = {c.product_id: {"text": "Popular in the store right now"} for c in candidates
           if c.source == "trending" or loaded is None or not loaded.ok}
    ranked = [c.product_id for c in candidates if c.product_id not in out]
    if not ranked:
        return out
    rec = loaded.recommender
    fallback = {"text": "Picked for you by our recommender"}
    try:
        if state is None and customer is not None and rec.has_user(str(customer.pk)):
            state = rec.session(str(customer.pk))
        known = [pid for pid in ranked if rec.has_item(str(pid))]
        if state is not None and known:
            explained = rec.explain_session_many(state, [str(pid) for pid in known], names=display_names())
            out |= dict(zip(known, explained))
    except Exception:  # an explanation must never break a page
        logger.exception("could not explain products %s", ranked)
    return out | {pid: dict(fallback) for pid in ranked if pid not in out}


def display_names():
    """names(kind, id) for Recommender.explain: customers' display names, product titles
    (cached per process: explanations name the same few friends and products again and again)."""
    return _display_name


@lru_cache(maxsize=20000)
def _display_name(kind: str, ident: str) -> str:
    from shop.models import Customer

    model, field_name = (Customer, "display_name") if kind == "user" else (Product, "title")
    value = model.objects.filter(pk=ident).values_list(field_name, flat=True).first() if ident.isdigit() else None
    return value or ident
