"""The store's pages. Thin: parse the request, call catalogue/services, render."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Avg, Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import campaigns, catalogue, personalization, services, tracking
from .forms import AddToCartForm, CheckoutForm, PersonaForm, ReviewForm
from .images import product_svg
from .models import Category, Customer, Event, Order, Product

PAGE_SIZE = 24


def _page(request, queryset, size: int = PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def home(request):
    products = catalogue.with_popularity(catalogue.active_products()).order_by("-popularity_score", "pk")[:12]
    newest = catalogue.active_products().order_by("-created", "pk")[:8]
    categories = Category.objects.filter(parent=None).annotate(n=Count("children"))
    return render(request, "shop/home.html", {"popular": products, "newest": newest, "categories": categories})


def category_list(request):
    categories = Category.objects.filter(parent=None).prefetch_related("children")
    return render(request, "shop/category_list.html", {"categories": categories})


def category(request, slug):
    category = get_object_or_404(Category, slug=slug)
    sort = request.GET.get("sort", catalogue.DEFAULT_SORT)
    if sort not in catalogue.SORTS:
        sort = catalogue.DEFAULT_SORT
    page = _page(request, catalogue.in_category(category, sort))
    return render(request, "shop/category.html", {
        "category": category, "page": page, "sort": sort, "sorts": catalogue.SORT_LABELS,
        "children": category.children.all(),
    })


def product(request, pk):
    product = get_object_or_404(Product.objects.select_related("category", "brand"), pk=pk)
    tracking.record(Event.Type.VIEW, request=request, product=product)
    campaigns.record_click(request, product)
    return _product_page(request, product)


def _product_page(request, product, status=200, cart_form=None, review_form=None):
    """The product page; re-rendered with a bound, invalid form (and a 400) when input was bad."""
    reviews = product.reviews.select_related("customer")
    summary = reviews.aggregate(average=Avg("rating"), count=Count("pk"))
    customer = tracking.customer_for_user(request.user)
    own = reviews.filter(customer=customer).first() if customer else None
    return render(request, "shop/product.html", {
        "product": product, "reviews": reviews[:20], "summary": summary, "own_review": own,
        "cart_form": cart_form or AddToCartForm(), "review_form": review_form or ReviewForm(instance=own),
    }, status=status)


def product_image(request, pk):
    product = get_object_or_404(Product.objects.select_related("category"), pk=pk)
    response = HttpResponse(product_svg(product), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def search(request):
    query = request.GET.get("q", "").strip()[:200]
    results = catalogue.search(query)
    page = _page(request, results)
    customer = tracking.customer_for_user(request.user)
    personalization.rerank_page(page, customer, request.session.session_key or "")
    if query and request.GET.get("page", "1") == "1":  # one search event per search, not per results page
        tracking.record(Event.Type.SEARCH, request=request, query=query, metadata={"results": page.paginator.count})
    return render(request, "shop/search.html", {"query": query, "page": page})


# --- cart and checkout ----------------------------------------------------------------


def cart(request):
    return _cart_page(request)


def _cart_page(request, status=200):
    open_cart = services.current_cart(request)
    lines = open_cart.lines.select_related("product", "product__category") if open_cart else []
    return render(request, "shop/cart.html",
                  {"cart": open_cart, "lines": lines, "total": open_cart.total if open_cart else 0}, status=status)


@require_POST
def cart_add(request, pk):
    product = get_object_or_404(Product, pk=pk)
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        return _product_page(request, product, status=400, cart_form=form)
    try:
        services.add_to_cart(request, product, form.cleaned_data["quantity"])
    except services.ShopError as error:
        messages.error(request, str(error))
        return _product_page(request, product, status=409)
    messages.success(request, f"Added {product.title} to your cart.")
    return redirect("shop:cart")


@require_POST
def cart_remove(request, pk):
    product = get_object_or_404(Product, pk=pk)
    if services.remove_from_cart(request, product):
        messages.info(request, f"Removed {product.title} from your cart.")
    return redirect("shop:cart")


@login_required
def checkout(request):
    cart = services.current_cart(request)
    if cart is None or not cart.lines.exists():
        messages.info(request, "Your cart is empty.")
        return redirect("shop:cart")
    form = CheckoutForm(request.POST or None, initial={"name_on_card": request.user.get_full_name()})
    if request.method == "POST" and form.is_valid():
        try:
            order = services.checkout(request, cart)
        except services.ShopError as error:
            messages.error(request, str(error))
            return _cart_page(request, status=409)
        messages.success(request, f"Thank you! Order #{order.pk} is paid (demo payment {order.payment_reference}).")
        return redirect("shop:order", pk=order.pk)
    lines = cart.lines.select_related("product")
    return render(request, "shop/checkout.html", {"form": form, "lines": lines, "total": cart.total},
                  status=400 if form.errors else 200)


@login_required
def order_list(request):
    customer = services.ensure_customer(request.user)
    orders = customer.orders.annotate(n_items=Count("lines")).order_by("-created", "-pk")
    return render(request, "shop/order_list.html", {"page": _page(request, orders, 20)})


@login_required
def order_detail(request, pk):
    order = get_object_or_404(Order, pk=pk, customer__user=request.user)
    return render(request, "shop/order_detail.html", {"order": order, "lines": order.lines.select_related("product")})


# --- reviews and social ---------------------------------------------------------------


@login_required
@require_POST
def review(request, pk):
    product = get_object_or_404(Product, pk=pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _product_page(request, product, status=400, review_form=form)
    services.submit_review(request, product, form.cleaned_data["rating"], form.cleaned_data["text"])
    messages.success(request, "Thanks for your review.")
    return redirect(product)


def customer(request, pk):
    return _customer_page(request, get_object_or_404(Customer, pk=pk))


def _customer_page(request, profile, status=200):
    me = tracking.customer_for_user(request.user)
    following = profile.following.order_by("display_name", "pk")
    return render(request, "shop/customer.html", {
        "profile": profile,
        "following_page": _page(request, following, 30),
        "followers": profile.followers.count(),
        "reviews": profile.reviews.select_related("product")[:10],
        "is_me": me is not None and me.pk == profile.pk,
        "i_follow": me is not None and me.following.filter(pk=profile.pk).exists(),
    }, status=status)


@login_required
@require_POST
def follow(request, pk):
    followee = get_object_or_404(Customer, pk=pk)
    try:
        if services.follow(request, followee):
            messages.success(request, f"You now follow {followee}.")
    except services.ShopError as error:
        messages.error(request, str(error))
        return _customer_page(request, followee, status=400)
    return redirect(followee)


@login_required
@require_POST
def unfollow(request, pk):
    followee = get_object_or_404(Customer, pk=pk)
    if services.unfollow(request, followee):
        messages.info(request, f"You no longer follow {followee}.")
    return redirect(followee)


# --- demo: shop as a seeded customer ----------------------------------------------------


def shop_as(request):
    """The persona switcher: log in as any customer without a password. Demo mode only."""
    if not settings.DEMO_MODE:
        raise Http404("The persona switcher exists only in demo mode.")
    if request.method == "POST":
        form = PersonaForm(request.POST)
        if not form.is_valid():
            messages.error(request, "customer: choose a customer from the list.")
            return _persona_list(request, status=400)
        persona = get_object_or_404(Customer.objects.select_related("user"), pk=form.cleaned_data["customer"])
        login(request, persona.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"You are now shopping as {persona}.")
        next_url = request.POST.get("next", "")
        safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure())
        return redirect(next_url if safe else "shop:home")
    return _persona_list(request)


def _persona_list(request, status=200):
    query = request.GET.get("q", "").strip()
    customers = Customer.objects.annotate(n_orders=Count("orders", distinct=True), n_following=Count("follows_out", distinct=True))
    if query:
        customers = customers.filter(display_name__icontains=query)
    return render(request, "shop/shop_as.html", {"page": _page(request, customers.order_by("display_name", "pk"), 30),
                                                 "query": query}, status=status)
