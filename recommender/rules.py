"""Merchandising rules: pin, boost, bury or exclude a product, brand or category.

`apply_rules` is a pure function over a ranked candidate list so the dashboard can preview
unsaved rules with exactly the code that serves saved ones. Boost and bury act on the
candidate's position (scores of different sources are not comparable): an item's key is
`1 - position/len` plus the boosts' strengths minus the buries', so strength 1 moves an
item past every unboosted one. A pin puts its product (or the best candidate of its brand
or category) at a fixed 1-based position.
"""
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from shop.models import Category

from .models import MerchandisingRule

RULES_CACHE_SECONDS = 5


@dataclass(frozen=True)
class Candidate:
    product_id: int
    score: float
    explanation: dict | None = None
    source: str = ""


@dataclass(frozen=True)
class ProductFacts:
    brand_id: int | None
    category_ids: tuple[int, ...]  # the product's category and its ancestors
    sellable: bool


def live_rules(widget: str, now=None) -> list[MerchandisingRule]:
    """Active rules for this widget (or every widget) whose date range includes now."""
    now = now or timezone.now()
    key = f"recommender:rules:{widget}"
    rules = cache.get(key)
    if rules is None:
        rules = list(
            MerchandisingRule.objects.filter(active=True)
            .filter(Q(widget="") | Q(widget=widget))
            .order_by("position", "pk")
        )
        cache.set(key, rules, RULES_CACHE_SECONDS)
    return [r for r in rules if (r.starts is None or r.starts <= now) and (r.ends is None or now < r.ends)]


def forget_rules() -> None:
    from .serving import WIDGETS

    cache.delete_many([f"recommender:rules:{widget}" for widget in WIDGETS])


def category_ancestors() -> dict[int, tuple[int, ...]]:
    """category id -> (itself, parent, grandparent, ...); a rule on a parent covers children."""
    parents = dict(Category.objects.values_list("pk", "parent_id"))
    chains = {}
    for pk in parents:
        chain, node = [], pk
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
        chains[pk] = tuple(chain)
    return chains


def matches(rule: MerchandisingRule, product_id: int, facts: ProductFacts | None) -> bool:
    if rule.product_id is not None:
        return rule.product_id == product_id
    if facts is None:
        return False
    if rule.brand_id is not None:
        return rule.brand_id == facts.brand_id
    return rule.category_id in facts.category_ids


def apply_rules(
    candidates: list[Candidate], rules: list[MerchandisingRule], facts: dict[int, ProductFacts]
) -> list[Candidate]:
    """Exclude, then boost/bury, then pin. Pinned products from outside the list are added
    when `facts` says they are sellable (the caller loads facts for pinned products); an
    excluded product is never pinned back in."""
    by_action = {action: [r for r in rules if r.action == action] for action in MerchandisingRule.Action.values}
    def excluded(product_id: int) -> bool:
        return any(matches(r, product_id, facts.get(product_id)) for r in by_action["exclude"])

    kept = [c for c in candidates if not excluded(c.product_id)]
    if by_action["boost"] or by_action["bury"]:
        kept = _reorder(kept, by_action["boost"], by_action["bury"], facts)
    for rule in sorted(by_action["pin"], key=lambda r: (r.position, r.pk or 0)):
        if rule.product_id is None or not excluded(rule.product_id):  # an exclusion always wins
            kept = _pin(kept, rule, facts)
    return kept


def _reorder(kept, boosts, buries, facts) -> list[Candidate]:
    total = max(len(kept), 1)

    def key(indexed):
        position, c = indexed
        f = facts.get(c.product_id)
        shift = sum(r.strength for r in boosts if matches(r, c.product_id, f))
        shift -= sum(r.strength for r in buries if matches(r, c.product_id, f))
        return -(1 - position / total + shift), position

    return [c for _, c in sorted(enumerate(kept), key=key)]


def _pin(kept: list[Candidate], rule: MerchandisingRule, facts) -> list[Candidate]:
    target = next((c for c in kept if matches(rule, c.product_id, facts.get(c.product_id))), None)
    if target is None and rule.product_id is not None:
        f = facts.get(rule.product_id)
        if f is None or not f.sellable:
            return kept
        target = Candidate(rule.product_id, 0.0, {"text": "Featured by our merchandisers"}, "")
    if target is None:
        return kept
    rest = [c for c in kept if c.product_id != target.product_id]
    pinned = replace(target, explanation={**(target.explanation or {}), "merchandising": f"pinned: {rule.name}"})
    rest.insert(max(rule.position, 1) - 1, pinned)
    return rest
