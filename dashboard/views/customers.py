from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string

from recommender import serving
from recommender.explanations import with_names
from shop.models import Customer, Product

from .. import analytics, explanations, figures
from ..access import merchandiser_required
from ..forms import CustomerFilterForm, WhatIfForm
from .common import page, paginate

LIST_LENGTH = 8


@merchandiser_required
def customer_list(request):
    form = CustomerFilterForm(request.GET)
    if not form.is_valid():
        return page(request, "customers.html", "customers", {"form": form}, status=400)
    customers, query = paginate(request, analytics.filter_customers(**form.cleaned_data))
    return page(request, "customers.html", "customers", {"form": form, "page": customers, "query": query})


def item_rows(result) -> list[dict]:
    return [
        {"product": item.product, "score": item.score, "rank": item.rank, "source": item.source,
         "text": (item.explanation or {}).get("text", ""), "explanation": item.explanation or {}}
        for item in result.items
    ]


@merchandiser_required
def customer_detail(request, pk: int):
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=pk)
    result = serving.recommend(customer=customer, n=LIST_LENGTH)
    items = item_rows(result)
    chosen = next((i for i in items if str(i["product"].pk) == request.GET.get("explain")), items[0] if items else None)
    explanation_figures = {
        name: figures.html(fig, height=220 if name != "recent" else 160)
        for name, fig in figures.explanation_figures(
            with_names(chosen["explanation"]) if chosen else {}
        ).items()
    }
    nodes, edges = analytics.neighbourhood(customer)
    attention = explanations.social_attention([n.pk for n in nodes])
    return page(request, "customer_detail.html", "customers", {
        "customer": customer,
        "timeline": analytics.timeline(customer),
        "items": items,
        "source": result.source,
        "chosen": chosen,
        "explanation_figures": explanation_figures,
        "network_figure": figures.html(figures.social_network(customer, nodes, edges, attention), height=420)
        if edges else "",
        "products": Product.objects.filter(active=True).order_by("title"),
    })


@merchandiser_required
def what_if(request, pk: int):
    """The list re-ranked as if the customer had also viewed the chosen products (JSON)."""
    customer = get_object_or_404(Customer, pk=pk)
    form = WhatIfForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    products = form.cleaned_data["product"]
    # ModelMultipleChoiceField loses the order: keep the order the merchandiser gave.
    order = [int(v) for v in request.GET.getlist("product")]
    ids = sorted((p.pk for p in products), key=order.index)
    result = serving.what_if(customer, ids, LIST_LENGTH)
    items = item_rows(result)
    return JsonResponse({
        "source": result.source,
        "hypothetical_views": ids,
        "items": [{"product": i["product"].pk, "title": i["product"].title, "score": i["score"],
                   "rank": i["rank"], "source": i["source"], "text": i["text"]} for i in items],
        "html": render_to_string("dashboard/_rec_list.html", {"items": items, "customer": customer}, request),
    })
