"""The model's explanation JSON (DESIGN.md format) in plain words for shoppers."""

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
