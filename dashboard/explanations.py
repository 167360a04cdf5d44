"""Reading the model's explanations (DESIGN.md format) for the dashboard's figures.

The social attention drawn on the network comes from the explanations the model wrote for each
customer's materialized recommendations (recommender.Recommendation of the active version).
"""
from recommender.models import ModelVersion, Recommendation
from shop.models import Customer, Follow


def friend_id(entry: dict, followees: dict[int, str]) -> int | None:
    """Which followee an explanation's friend entry names: by id when it carries one, else by name."""
    for key in ("customer_id", "user_id", "id"):
        if str(entry.get(key, "")).isdigit() and int(entry[key]) in followees:
            return int(entry[key])
    user = str(entry.get("user", ""))
    if user.isdigit() and int(user) in followees:
        return int(user)
    matches = [pk for pk, name in followees.items() if name == user]
    return matches[0] if len(matches) == 1 else None


def social_attention(customer_ids) -> dict[tuple[int, int], float]:
    """(follower, followee) -> the model's attention weight, from each follower's top explanation."""
    version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
    if version is None:
        return {}
    top = {
        rec.customer_id: rec.explanation or {}
        for rec in Recommendation.objects.filter(model_version=version, customer_id__in=customer_ids)
        .order_by("customer_id", "-rank")  # the last assignment per customer wins: rank 1
    }
    names = dict(Customer.objects.values_list("pk", "display_name").filter(pk__in=Follow.objects.filter(
        follower_id__in=top).values("followee_id")))
    follows: dict[int, dict[int, str]] = {}
    for follower, followee in Follow.objects.filter(follower_id__in=top).values_list("follower_id", "followee_id"):
        follows.setdefault(follower, {})[followee] = names.get(followee, "")
    attention = {}
    for follower, explanation in top.items():
        for entry in explanation.get("friends") or []:
            pk = friend_id(entry, follows.get(follower, {}))
            if pk is not None:
                attention[(follower, pk)] = float(entry["weight"])
    return attention
