"""Store-side views of the recommender: click tracking and "Why this?"."""
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from shop.models import Event, Product
from shop.tracking import customer_for_user, record, session_key_for

from . import serving
from .explanations import plain_words, with_names


@require_GET
def click(request, widget: str, product_id: int):
    """Record a rec_click (widget + source) and send the shopper on to the product."""
    product = get_object_or_404(Product, pk=product_id)
    if widget in serving.WIDGETS:
        source = request.GET.get("src", "")[:40]
        record(Event.Type.REC_CLICK, request=request, product=product, widget=widget, model_version=source)
    return redirect(product.get_absolute_url())


@require_GET
def why(request, widget: str, product_id: int):
    """The explanation of one recommended product, in plain words (also the popover's fallback)."""
    product = get_object_or_404(Product, pk=product_id)
    if widget not in serving.WIDGETS:
        widget = "home"
    customer = customer_for_user(request.user)
    result = serving.recommend(customer=customer, session_key=session_key_for(request), widget=widget,
                               n=serving.MAX_N)
    item = next((i for i in result.items if i.product.pk == product.pk), None)
    explanation = item.explanation if item else {}
    return render(request, "recommender/why.html", {
        "product": product, "why": plain_words(with_names(explanation)), "listed": item is not None, "source": result.source,
    })
