"""Clicks on merchandiser campaign links (`?utm_campaign=campaign-<id>` on a product URL).

Recorded as `rec_click` events with widget=<the campaign tag> and model_version="campaign",
once per visit: the session remembers which (campaign, product) clicks it already counted,
so reloading the landing page does not inflate the campaign's clicks.
"""
import re

from . import tracking
from .models import Event

CAMPAIGN_TAG = re.compile(r"campaign-[0-9]{1,18}")
MODEL_VERSION = "campaign"
SESSION_KEY = "campaign_clicks"


def campaign_tag(request) -> str:
    """The validated utm_campaign value, or "" when absent or not `campaign-<digits>`."""
    value = request.GET.get("utm_campaign", "")
    return value if CAMPAIGN_TAG.fullmatch(value) else ""


def record_click(request, product) -> Event | None:
    """Record the campaign click behind this product page view, once per visit."""
    tag = campaign_tag(request)
    if not tag:
        return None
    seen = request.session.get(SESSION_KEY, [])
    key = f"{tag}:{product.pk}"
    if key in seen:
        return None
    event = tracking.record(Event.Type.REC_CLICK, request=request, product=product, widget=tag,
                            model_version=MODEL_VERSION, metadata={"source": request.GET.get("utm_source", "")[:40]})
    if event is not None:
        request.session[SESSION_KEY] = [*seen, key][-50:]  # bounded: a session cookie is not a log
    return event
