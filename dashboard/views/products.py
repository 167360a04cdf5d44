from django.db.models import Q
from django.shortcuts import get_object_or_404

from recommender import serving
from shop.models import Product

from .. import analytics, figures
from ..access import merchandiser_required
from .common import page, paginate


@merchandiser_required
def product_list(request):
    q = request.GET.get("q", "").strip()[:100]
    products = Product.objects.select_related("category", "brand")
    if q:
        products = products.filter(Q(title__icontains=q) | Q(brand__name__icontains=q) | Q(category__name__icontains=q))
    products, query = paginate(request, products.order_by("title", "pk"))
    return page(request, "products.html", "products", {"page": products, "query": query, "q": q})


@merchandiser_required
def product_detail(request, pk: int):
    product = get_object_or_404(Product.objects.select_related("category", "brand"), pk=pk)
    sentiment = analytics.sentiment_by_month(product)
    return page(request, "product_detail.html", "products", {
        "product": product,
        "related": serving.related(product, 8),
        "top_customers": serving.top_customers_for_product(product, 20),
        "sentiment_figure": figures.html(figures.sentiment_over_time(sentiment), height=300) if sentiment else "",
    })
