from django.conf import settings
from django.core.cache import cache
from django.db.models import Count

from .models import Category, Customer
from .services import cart_count

PERSONA_MENU_SIZE = 15
PERSONA_CACHE_SECONDS = 300


def shop(request):
    """What base.html needs on every page: nav categories, cart size, the persona menu."""
    context = {
        "DEMO_MODE": settings.DEMO_MODE,
        "nav_categories": Category.objects.filter(parent=None).only("name", "slug"),
        "cart_items": cart_count(request) if hasattr(request, "session") else 0,
    }
    if settings.DEMO_MODE:
        context["persona_menu"] = persona_menu()
    return context


def persona_menu() -> list[tuple[int, str]]:
    """(id, name) of the customers with the most orders: the most interesting personas.
    Cached (counting orders per customer on every page would be wasteful), keyed by the newest
    customer id so a re-seeded or flushed store never shows stale personas."""
    newest = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    key = f"shop:persona_menu:{newest}"
    menu = cache.get(key)
    if menu is None:
        top = Customer.objects.annotate(n=Count("orders")).order_by("-n", "pk")[:PERSONA_MENU_SIZE]
        menu = [(c.pk, c.display_name) for c in top]
        cache.set(key, menu, PERSONA_CACHE_SECONDS)
    return menu
