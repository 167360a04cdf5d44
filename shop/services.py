"""What shoppers do, as functions the views (and tests) call: cart, checkout, follow, review.

Views stay thin: they parse the request, call one of these, and render. Every action
records its Event through shop.tracking.
"""
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F

from . import tracking
from .models import Cart, CartLine, Customer, Event, Follow, Order, OrderLine, Product, Review

MAX_LINE_QUANTITY = 20


class ShopError(Exception):
    """A shopper-facing failure; the message is safe to show."""


@dataclass
class Shortage:
    product: Product
    requested: int
    available: int


class OutOfStock(ShopError):
    def __init__(self, shortages: list[Shortage]):
        self.shortages = shortages
        names = ", ".join(f"{s.product.title} (only {s.available} left, you asked for {s.requested})" for s in shortages)
        super().__init__(f"Not enough stock: {names}. Nothing was charged.")


def ensure_customer(user: AbstractBaseUser) -> Customer:
    """The Customer profile of a logged-in user, created on first use (e.g. staff who shop)."""
    customer, _ = Customer.objects.get_or_create(
        user=user, defaults={"display_name": user.get_full_name() or user.get_username(), "email": user.email}
    )
    return customer


# --- cart -------------------------------------------------------------------------------

CART_SESSION_KEY = "cart_id"


def current_cart(request, create: bool = False) -> Cart | None:
    """The visitor's open cart. An anonymous cart is remembered by id in the session (which
    survives login), and is merged into the customer's cart once they log in."""
    customer = tracking.customer_for_user(request.user)
    anonymous_id = request.session.get(CART_SESSION_KEY)
    anonymous = (
        Cart.objects.filter(pk=anonymous_id, customer=None, checked_out=False).first() if anonymous_id else None
    )
    if customer is None:
        if anonymous is None and create:
            anonymous = Cart.objects.create(session_key=tracking.session_key_for(request))
            request.session[CART_SESSION_KEY] = anonymous.pk
        return anonymous
    cart = Cart.objects.filter(customer=customer, checked_out=False).order_by("-updated", "-pk").first()
    if anonymous is not None:
        cart = _merge_into(anonymous, cart, customer)
        request.session.pop(CART_SESSION_KEY, None)
    if cart is None and create:
        cart = Cart.objects.create(customer=customer, session_key=tracking.session_key_for(request))
    return cart


@transaction.atomic
def _merge_into(anonymous: Cart, cart: Cart | None, customer: Customer) -> Cart:
    if cart is None:
        anonymous.customer = customer
        anonymous.save(update_fields=["customer", "updated"])
        return anonymous
    for line in anonymous.lines.all():
        existing = cart.lines.filter(product_id=line.product_id).first()
        if existing:
            existing.quantity = min(existing.quantity + line.quantity, MAX_LINE_QUANTITY)
            existing.save(update_fields=["quantity"])
        else:
            line.cart = cart
            line.save(update_fields=["cart"])
    anonymous.delete()
    return cart


def cart_count(request) -> int:
    cart = current_cart(request)
    return sum(cart.lines.values_list("quantity", flat=True)) if cart else 0


def add_to_cart(request, product: Product, quantity: int = 1) -> CartLine:
    if not product.active:
        raise ShopError(f"{product.title} is no longer sold.")
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise ShopError(f"Quantity must be between 1 and {MAX_LINE_QUANTITY}.")
    with transaction.atomic():
        cart = current_cart(request, create=True)
        line, created = CartLine.objects.get_or_create(cart=cart, product=product, defaults={"quantity": quantity})
        if not created:
            line.quantity = min(line.quantity + quantity, MAX_LINE_QUANTITY)
            line.save(update_fields=["quantity"])
        cart.save(update_fields=["updated"])
        tracking.record(Event.Type.ADD_TO_CART, request=request, product=product, metadata={"quantity": quantity})
    return line


def remove_from_cart(request, product: Product) -> bool:
    cart = current_cart(request)
    if cart is None:
        return False
    with transaction.atomic():
        deleted, _ = cart.lines.filter(product=product).delete()
        if deleted:
            tracking.record(Event.Type.REMOVE_FROM_CART, request=request, product=product)
    return bool(deleted)


# --- checkout ---------------------------------------------------------------------------


def checkout(request, cart: Cart) -> Order:
    """Turn the cart into a paid Order (fake payment) and decrement stock, all or nothing.

    Products are locked with select_for_update (in pk order, so two checkouts cannot
    deadlock); if any line lacks stock, OutOfStock is raised and nothing is written.
    """
    customer = ensure_customer(request.user)
    with transaction.atomic():
        lines = list(cart.lines.select_related("product"))
        if not lines:
            raise ShopError("Your cart is empty.")
        locked = Product.objects.select_for_update().filter(pk__in=[l.product_id for l in lines]).order_by("pk")
        products = {p.pk: p for p in locked}
        shortages = [
            Shortage(products[l.product_id], l.quantity, products[l.product_id].stock)
            for l in lines
            if not products[l.product_id].active or products[l.product_id].stock < l.quantity
        ]
        if shortages:
            raise OutOfStock(shortages)
        order = Order.objects.create(customer=customer, payment_reference=f"FAKE-{uuid.uuid4().hex[:12].upper()}")
        order_lines = OrderLine.objects.bulk_create(
            OrderLine(order=order, product=products[l.product_id], quantity=l.quantity,
                      unit_price=products[l.product_id].price)
            for l in lines
        )
        for line in order_lines:
            Product.objects.filter(pk=line.product_id).update(stock=F("stock") - line.quantity)
        order.total = sum((l.subtotal for l in order_lines), start=order.total)
        order.save(update_fields=["total"])
        cart.checked_out = True
        cart.save(update_fields=["checked_out", "updated"])
        for line in order_lines:
            tracking.record(
                Event.Type.PURCHASE, request=request, customer=customer, product=line.product,
                metadata={"order": order.pk, "quantity": line.quantity, "unit_price": str(line.unit_price)},
            )
    return order


# --- social -----------------------------------------------------------------------------


def follow(request, followee: Customer) -> bool:
    """Follow `followee`; returns False when already following. Raises ShopError on self-follow."""
    follower = ensure_customer(request.user)
    if follower.pk == followee.pk:
        raise ShopError("You cannot follow yourself.")
    try:
        with transaction.atomic():
            Follow.objects.create(follower=follower, followee=followee)
            tracking.record(Event.Type.FOLLOW, request=request, customer=follower,
                            metadata={"followee": followee.pk, "action": "follow"})
    except IntegrityError:
        return False
    return True


def unfollow(request, followee: Customer) -> bool:
    """Stop following; recorded as a follow event with action "unfollow" (there is no unfollow type)."""
    follower = ensure_customer(request.user)
    with transaction.atomic():
        deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
        if deleted:
            tracking.record(Event.Type.FOLLOW, request=request, customer=follower,
                            metadata={"followee": followee.pk, "action": "unfollow"})
    return bool(deleted)


# --- reviews ----------------------------------------------------------------------------


def submit_review(request, product: Product, rating: int, text: str) -> Review:
    """Create or update the customer's one review of `product` (sentiment computed on save)."""
    customer = ensure_customer(request.user)
    with transaction.atomic():
        review = Review.objects.filter(customer=customer, product=product).first() or Review(
            customer=customer, product=product
        )
        review.rating, review.text = rating, text
        review.save()
        tracking.record(Event.Type.REVIEW, request=request, customer=customer, product=product,
                        metadata={"rating": rating, "sentiment": round(review.sentiment, 4)})
    return review
