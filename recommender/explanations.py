"""The model's explanation JSON (DESIGN.md format) for people: ids named, then plain words."""
from shop.models import Customer, Product

SIGNAL_WORDS = {
    "graph": "what shoppers with similar taste bought",
    "social": "the people you follow",
    "sequence": "what you looked at recently",
}


def plain_words(explanation: dict | None) -> dict:
    """{"headline", "reasons": [...]} for the "Why this?" popover; never invents a reason."""
    explanation = explanation or {}
    reasons = []
    signals = explanation.get("signals") or {}
    if signals:
        ranked = sorted(((float(w), name) for name, w in signals.items() if name in SIGNAL_WORDS), reverse=True)
        parts = [f"{SIGNAL_WORDS[name]} ({weight:.0%})" for weight, name in ranked if weight > 0]
        if parts:
            reasons.append("It is based on " + ", ".join(parts) + ".")
    recent = [r for r in explanation.get("recent_items") or [] if r.get("item")]
    if recent:
        top = sorted(recent, key=lambda r: -float(r.get("weight", 0)))[:3]
        reasons.append("You recently viewed " + ", ".join(str(r["item"]) for r in top) + ".")
    friends = [f for f in explanation.get("friends") or [] if f.get("user")]
    if friends:
        bought = [str(f["user"]) for f in friends if f.get("interacted_with_item")]
        names = bought or [str(f["user"]) for f in friends[:3]]
        verb = "also chose this" if bought else "shaped these picks"
        reasons.append(f"People you follow ({', '.join(names[:3])}) {verb}.")
    if explanation.get("merchandising"):
        reasons.append("Our merchandisers feature it.")
    headline = explanation.get("text") or (reasons[0] if reasons else "Popular in the store right now")
    return {"headline": headline, "reasons": reasons}


def with_names_many(explanations: list[dict]) -> list[dict]:
    """Copies for display: the model names friends and items by id; show names and titles.
    Weights are untouched. Two queries for the whole batch (a widget names all its cards at once)."""
    explanations = [e or {} for e in explanations]
    customer_ids = {int(f["user"]) for e in explanations for f in e.get("friends") or []
                    if str(f.get("user", "")).isdigit()}
    product_ids = {int(i["item"]) for e in explanations for i in e.get("recent_items") or []
                   if str(i.get("item", "")).isdigit()}
    customers = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "display_name")) if customer_ids else {}
    products = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "title")) if product_ids else {}

    def named(value, table):
        return table.get(int(value), value) if str(value).isdigit() else value

    return [
        {
            **e,
            "friends": [{**f, "user": named(f.get("user", ""), customers)} for f in e.get("friends") or []],
            "recent_items": [{**i, "item": named(i.get("item", ""), products)} for i in e.get("recent_items") or []],
        }
        for e in explanations
    ]


def with_names(explanation: dict) -> dict:
    return with_names_many([explanation])[0]
