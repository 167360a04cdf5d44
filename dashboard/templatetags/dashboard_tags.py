from django import template

register = template.Library()


@register.filter
def metric(version, key: str):
    """`version|metric:"test.ndcg@10"`: one figure from ModelVersion.metrics, or None."""
    split, name = key.split(".", 1)
    return ((version.metrics or {}).get(split) or {}).get(name)
