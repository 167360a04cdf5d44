"""The dashboard's read-only queries over the store's facts (events, orders, reviews).

Definitions (the overview shows these, tests check them on a hand-computed fixture):
- sessions: distinct non-empty session keys among the events in the range;
- views / carts: view and add_to_cart events; orders / revenue: paid orders and their totals;
- conversion: orders / sessions;
- impressions / clicks per widget: rec_impression / rec_click events; CTR = clicks / impressions;
- attributed revenue: order lines (paid orders in the range) whose product the same customer
  clicked in a widget at most `window_days` before the order; the last such click gets the line
  (last-click attribution), so a line is never counted twice;
- coverage: distinct products shown in recommendation impressions / active products.
"""
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from shop.models import Customer, Event, Follow, Order, OrderLine, Product, Review

ZERO = Decimal("0.00")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the current time zone: both days inclusive."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def ratio(numerator, denominator) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


@dataclass
class WidgetStats:
    widget: str
    impressions: int = 0
    clicks: int = 0
    attributed_revenue: Decimal = ZERO

    @property
    def ctr(self) -> float | None:
        return ratio(self.clicks, self.impressions)


@dataclass
class Overview:
    start: date
    end: date
    window_days: int
    sessions: int
    views: int
    carts: int
    orders: int
    revenue: Decimal
    coverage: float | None
    widgets: list[WidgetStats]
    series: dict[str, list] = field(default_factory=dict)

    @property
    def conversion(self) -> float | None:
        return ratio(self.orders, self.sessions)

    @property
    def impressions(self) -> int:
        return sum(w.impressions for w in self.widgets)

    @property
    def clicks(self) -> int:
        return sum(w.clicks for w in self.widgets)

    @property
    def ctr(self) -> float | None:
        return ratio(self.clicks, self.impressions)

    @property
    def attributed_revenue(self) -> Decimal:
        return sum((w.attributed_revenue for w in self.widgets), ZERO)


def overview(start: date, end: date, window_days: int = 7) -> Overview:
    lo, hi = day_bounds(start, end)
    events = Event.objects.filter(timestamp__gte=lo, timestamp__lt=hi)
    paid = Order.objects.filter(status=Order.Status.PAID, created__gte=lo, created__lt=hi)
    counts = events.aggregate(
        sessions=Count("session_key", distinct=True, filter=~Q(session_key="")),
        views=Count("pk", filter=Q(type=Event.Type.VIEW)),
        carts=Count("pk", filter=Q(type=Event.Type.ADD_TO_CART)),
    )
    totals = paid.aggregate(orders=Count("pk"), revenue=Coalesce(Sum("total"), Value(ZERO)))
    return Overview(
        start=start,
        end=end,
        window_days=window_days,
        sessions=counts["sessions"],
        views=counts["views"],
        carts=counts["carts"],
        orders=totals["orders"],
        revenue=totals["revenue"],
        coverage=impression_coverage(events),
        widgets=widget_stats(events, lo, hi, window_days),
        series=daily_series(events, paid, start, end),
    )


def impression_coverage(events) -> float | None:
    shown = (
        events.filter(type=Event.Type.REC_IMPRESSION, product__isnull=False)
        .values("product_id").distinct().count()
    )
    return ratio(shown, Product.objects.filter(active=True).count())


def widget_stats(events, lo: datetime, hi: datetime, window_days: int) -> list[WidgetStats]:
    stats: dict[str, WidgetStats] = {}
    rows = (
        events.filter(type__in=[Event.Type.REC_IMPRESSION, Event.Type.REC_CLICK])
        .values("widget", "type").annotate(n=Count("pk"))
    )
    for row in rows:
        entry = stats.setdefault(row["widget"], WidgetStats(row["widget"]))
        if row["type"] == Event.Type.REC_IMPRESSION:
            entry.impressions = row["n"]
        else:
            entry.clicks = row["n"]
    for widget, amount in attributed_revenue(lo, hi, window_days).items():
        stats.setdefault(widget, WidgetStats(widget)).attributed_revenue = amount
    return sorted(stats.values(), key=lambda w: w.widget)


def attributed_revenue(lo: datetime, hi: datetime, window_days: int) -> dict[str, Decimal]:
    """Widget -> revenue of order lines in [lo, hi) clicked in that widget within the window."""
    window = timedelta(days=window_days)
    clicks: dict[tuple[int, int], list[tuple[datetime, str]]] = defaultdict(list)
    click_rows = (
        Event.objects.filter(
            type=Event.Type.REC_CLICK, customer__isnull=False, product__isnull=False,
            timestamp__gte=lo - window, timestamp__lt=hi,
        )
        .order_by("timestamp", "pk")
        .values_list("customer_id", "product_id", "timestamp", "widget")
    )
    for customer_id, product_id, ts, widget in click_rows:
        clicks[(customer_id, product_id)].append((ts, widget))
    revenue: dict[str, Decimal] = defaultdict(lambda: ZERO)
    lines = OrderLine.objects.filter(
        order__status=Order.Status.PAID, order__created__gte=lo, order__created__lt=hi
    ).values_list("order__customer_id", "order__created", "product_id", "unit_price", "quantity")
    for customer_id, ordered, product_id, unit_price, quantity in lines:
        history = clicks.get((customer_id, product_id))
        if not history:
            continue
        last = bisect_right([ts for ts, _ in history], ordered) - 1
        if last >= 0 and history[last][0] >= ordered - window:
            revenue[history[last][1]] += unit_price * quantity
    return dict(revenue)


SERIES_EVENTS = {
    "views": Event.Type.VIEW,
    "carts": Event.Type.ADD_TO_CART,
    "impressions": Event.Type.REC_IMPRESSION,
    "clicks": Event.Type.REC_CLICK,
}


def daily_series(events, paid, start: date, end: date) -> dict[str, list]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    position = {day: i for i, day in enumerate(days)}
    series: dict[str, list] = {"day": days, **{name: [0] * len(days) for name in SERIES_EVENTS}}
    series["orders"], series["revenue"] = [0] * len(days), [ZERO] * len(days)
    by_type = {value: name for name, value in SERIES_EVENTS.items()}
    rows = (
        events.filter(type__in=list(by_type)).annotate(day=TruncDate("timestamp"))
        .values("day", "type").annotate(n=Count("pk"))
    )
    for row in rows:
        series[by_type[row["type"]]][position[row["day"]]] = row["n"]
    for row in paid.annotate(day=TruncDate("created")).values("day").annotate(n=Count("pk"), total=Sum("total")):
        series["orders"][position[row["day"]]] = row["n"]
        series["revenue"][position[row["day"]]] = row["total"]
    return series


# --- customers ---------------------------------------------------------------------------

SEGMENTS = {
    "new": "Joined in the last 30 days",
    "browsers": "Never ordered",
    "buyers": "Ordered at least once",
    "repeat": "Ordered twice or more",
    "opted_in": "Marketing opt-in",
}
ACTIVITY = {
    "7": "Active in the last 7 days",
    "30": "Active in the last 30 days",
    "inactive30": "Inactive for 30+ days",
}


def customers_annotated():
    """Customers with last activity, paid-order count and spend, and friend count (subqueries:
    no join fan-out between the aggregates)."""
    last_event = Event.objects.filter(customer=OuterRef("pk")).order_by("-timestamp").values("timestamp")[:1]
    paid = Order.objects.filter(customer=OuterRef("pk"), status=Order.Status.PAID).values("customer")
    friends = Follow.objects.filter(follower=OuterRef("pk")).values("follower")
    return Customer.objects.select_related("user").annotate(
        last_active=Subquery(last_event),
        order_count=Coalesce(Subquery(paid.annotate(n=Count("pk")).values("n")), Value(0)),
        spent=Coalesce(Subquery(paid.annotate(s=Sum("total")).values("s")), Value(ZERO)),
        friend_count=Coalesce(Subquery(friends.annotate(n=Count("pk")).values("n")), Value(0)),
    )


def filter_customers(q: str = "", segment: str = "", activity: str = "", has_friends: str = ""):
    now = timezone.now()
    customers = customers_annotated()
    if q:
        customers = customers.filter(
            Q(display_name__icontains=q) | Q(email__icontains=q) | Q(user__username__icontains=q)
        )
    if segment == "new":
        customers = customers.filter(joined__gte=now - timedelta(days=30))
    elif segment == "browsers":
        customers = customers.filter(order_count=0)
    elif segment == "buyers":
        customers = customers.filter(order_count__gte=1)
    elif segment == "repeat":
        customers = customers.filter(order_count__gte=2)
    elif segment == "opted_in":
        customers = customers.filter(marketing_opt_in=True)
    if activity:
        # Activity is any event or order (as for a campaign's "inactive" rule).
        since = now - timedelta(days=30 if activity == "inactive30" else int(activity))
        active = Exists(Event.objects.filter(customer=OuterRef("pk"), timestamp__gte=since)) | Exists(
            Order.objects.filter(customer=OuterRef("pk"), created__gte=since)
        )
        customers = customers.exclude(active) if activity == "inactive30" else customers.filter(active)
    if has_friends in ("yes", "no"):
        has = Exists(Follow.objects.filter(follower=OuterRef("pk")))
        customers = customers.filter(has) if has_friends == "yes" else customers.exclude(has)
    return customers.order_by("display_name", "pk")


def timeline(customer: Customer, limit: int = 60):
    return customer.events.select_related("product").order_by("-timestamp", "-pk")[:limit]


def neighbourhood(customer: Customer, limit: int = 25) -> tuple[list[Customer], list[tuple[int, int]]]:
    """The customer, the people they follow and whom those follow: nodes and directed edges."""
    friend_ids = list(
        Follow.objects.filter(follower=customer).values_list("followee_id", flat=True)[:limit]
    )
    edges = [(customer.pk, f) for f in friend_ids]
    fof = Follow.objects.filter(follower_id__in=friend_ids).values_list("follower_id", "followee_id")
    for follower, followee in fof[: limit * 4]:
        if followee != customer.pk:
            edges.append((follower, followee))
    ids = {customer.pk, *friend_ids, *(b for _, b in edges)}
    return list(Customer.objects.filter(pk__in=ids)), edges


# --- products ----------------------------------------------------------------------------

def sentiment_by_month(product: Product) -> list[dict]:
    return list(
        Review.objects.filter(product=product).annotate(month=TruncMonth("created"))
        .values("month").annotate(reviews=Count("pk"), sentiment=Avg("sentiment"), rating=Avg("rating"))
        .order_by("month")
    )
