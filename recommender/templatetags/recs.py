"""`{% load recs %}{% recommendations "home" product=... n=8 title="..." %}`: a store widget.

Renders product cards from recommender.serving, each linking through the click-tracking
redirect, with a "Why this?" popover in plain words, and logs one rec_impression per
rendered item (one bulk insert) carrying the widget and the source that served it.
"""
import logging
from urllib.parse import urlencode

from django import template
from django.template.loader import render_to_string
from django.urls import reverse

from shop.models import Event
from shop.tracking import customer_for_user, record_many, session_key_for

from .. import serving
from ..explanations import plain_words, with_names_many

register = template.Library()
logger = logging.getLogger(__name__)


@register.simple_tag(takes_context=True)
def recommendations(context, widget, product=None, n=8, title=""):
    request = context.get("request")
    customer = customer_for_user(getattr(request, "user", None)) if request else None
    session_key = session_key_for(request) if request else ""
    try:
        result = serving.recommend(customer=customer, session_key=session_key, widget=widget, n=n, product=product)
    except Exception:  # a broken widget must never break the page around it
        logger.exception("recommendation widget %r failed", widget)
        return ""
    if not result.items:
        return ""
    named = with_names_many([item.explanation for item in result.items])
    cards = [
        {
            "item": item,
            "href": reverse("recommender:click", args=[widget, item.product.pk]) + "?" + urlencode({"src": item.source}),
            "why_href": reverse("recommender:why", args=[widget, item.product.pk]),
            "why": plain_words(explanation),
        }
        for item, explanation in zip(result.items, named)
    ]
    log_impressions(result, customer, session_key)
    return render_to_string(
        "recommender/widget.html",
        {"widget": widget, "title": title, "cards": cards, "source": result.source, "reason": result.reason},
        request=request,
    )


def log_impressions(result, customer, session_key: str) -> None:
    events = [
        Event(type=Event.Type.REC_IMPRESSION, customer=customer, session_key=session_key, product=item.product,
              widget=result.widget, model_version=item.source[:40], metadata={"rank": item.rank})
        for item in result.items
    ]
    try:
        record_many(events, notify=False)
    except Exception:  # losing impressions is bad, losing the page is worse
        logger.exception("could not log %d impressions for widget %r", len(events), result.widget)
