"""Small builders for dashboard tests: a store made row by row, so every expected figure can
be computed by hand."""
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal
from itertools import count

from django.contrib.auth.models import Group, User

from shop.models import Brand, Category, Customer, Event, Follow, Order, OrderLine, Product

_seq = count(1)


def at(day: int, hour: int = 12, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=dt_timezone.utc)


def merchandiser(username: str = "merch") -> User:
    user = User.objects.create_user(username, password="pw-merch-123", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="merchandiser")[0])
    return user


def category(name: str, parent: Category | None = None) -> Category:
    return Category.objects.create(name=name, slug=f"{name.lower()}-{next(_seq)}", parent=parent)


def brand(name: str) -> Brand:
    return Brand.objects.create(name=name, slug=f"{name.lower()}-{next(_seq)}")


def product(title: str, cat: Category, price: str = "10.00", brand: Brand | None = None, **extra) -> Product:
    return Product.objects.create(title=title, category=cat, brand=brand, price=Decimal(price), stock=10, **extra)


def customer(name: str, opt_in: bool = True, email: str | None = None, **extra) -> Customer:
    user = User.objects.create_user(f"{name.lower()}{next(_seq)}", password="pw-cust-123")
    return Customer.objects.create(
        user=user, display_name=name, marketing_opt_in=opt_in,
        email=f"{name.lower()}@example.com" if email is None else email, **extra,
    )


def event(kind: str, when: datetime, who: Customer | None = None, item: Product | None = None,
          session: str = "", widget: str = "") -> Event:
    return Event.objects.create(type=kind, timestamp=when, customer=who, product=item, session_key=session,
                                widget=widget)


def order(who: Customer, when: datetime, *lines: tuple[Product, int], status: str = Order.Status.PAID) -> Order:
    total = sum((p.price * q for p, q in lines), Decimal("0"))
    placed = Order.objects.create(customer=who, created=when, status=status, total=total)
    for p, q in lines:
        OrderLine.objects.create(order=placed, product=p, quantity=q, unit_price=p.price)
    return placed


def follow(a: Customer, b: Customer) -> Follow:
    return Follow.objects.create(follower=a, followee=b)
