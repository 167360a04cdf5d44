"""Merchandising rules as a pure function over a ranked list."""
from recommender.models import MerchandisingRule
from recommender.rules import Candidate, ProductFacts, apply_rules

FACTS = {
    1: ProductFacts(brand_id=10, category_ids=(100, 1000), sellable=True),
    2: ProductFacts(brand_id=20, category_ids=(200, 1000), sellable=True),
    3: ProductFacts(brand_id=10, category_ids=(300,), sellable=True),
    4: ProductFacts(brand_id=30, category_ids=(400,), sellable=True),
    9: ProductFacts(brand_id=40, category_ids=(900,), sellable=True),
    8: ProductFacts(brand_id=40, category_ids=(900,), sellable=False),
}


def ranked(*ids):
    return [Candidate(pid, 1.0 - i / 10) for i, pid in enumerate(ids)]


def rule(action, **kwargs):
    return MerchandisingRule(name=f"{action} rule", action=action, **kwargs)


def ids(candidates):
    return [c.product_id for c in candidates]


def test_no_rules_keeps_the_order():
    assert ids(apply_rules(ranked(1, 2, 3, 4), [], FACTS)) == [1, 2, 3, 4]


def test_exclude_by_brand_removes_every_product_of_it():
    assert ids(apply_rules(ranked(1, 2, 3, 4), [rule("exclude", brand_id=10)], FACTS)) == [2, 4]


def test_exclude_by_parent_category_covers_children():
    assert ids(apply_rules(ranked(1, 2, 3, 4), [rule("exclude", category_id=1000)], FACTS)) == [3, 4]


def test_boost_moves_an_item_past_unboosted_ones():
    assert ids(apply_rules(ranked(1, 2, 3, 4), [rule("boost", product_id=4, strength=1.0)], FACTS)) == [4, 1, 2, 3]


def test_weak_boost_moves_an_item_up_only_a_little():
    assert ids(apply_rules(ranked(1, 2, 3, 4), [rule("boost", product_id=4, strength=0.3)], FACTS)) == [1, 2, 4, 3]


def test_bury_sends_a_category_to_the_bottom():
    assert ids(apply_rules(ranked(1, 2, 3, 4), [rule("bury", category_id=100, strength=1.0)], FACTS)) == [2, 3, 4, 1]


def test_pin_puts_a_listed_product_at_its_position():
    result = apply_rules(ranked(1, 2, 3, 4), [rule("pin", product_id=4, position=2)], FACTS)
    assert ids(result) == [1, 4, 2, 3]
    assert result[1].explanation["merchandising"] == "pinned: pin rule"


def test_pin_adds_a_sellable_product_from_outside_the_list():
    assert ids(apply_rules(ranked(1, 2), [rule("pin", product_id=9, position=1)], FACTS)) == [9, 1, 2]


def test_pin_ignores_an_unsellable_product():
    assert ids(apply_rules(ranked(1, 2), [rule("pin", product_id=8, position=1)], FACTS)) == [1, 2]


def test_pin_by_brand_takes_its_best_candidate():
    assert ids(apply_rules(ranked(2, 3, 1), [rule("pin", brand_id=10, position=1)], FACTS)) == [3, 2, 1]


def test_exclude_wins_over_pin():
    rules = [rule("exclude", product_id=4), rule("pin", product_id=4, position=1)]
    assert ids(apply_rules(ranked(1, 2, 3, 4), rules, FACTS)) == [1, 2, 3]
