"""`{% load recs %}{% recommendations "home" %}`: where the store shows a recommendation widget.

The store's templates place the tag; recommender/serving.py decides what fills it.
(Skeleton: renders nothing until serving lands.)
"""
from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def recommendations(context, widget, product=None, n=8, title=""):
    return ""
