"""Campaigns: who is in the audience, which items each customer gets, and the CSV rows for an
email tool. Only customers with marketing opt-in and an email address are ever in an audience.

Items come from the active model's materialized recommendations (recommender.Recommendation),
filtered to the campaign's product scope (active, in stock), best rank first; when a customer has fewer than N
in scope, the scope's most popular products fill the list (source "popular").
"""
import csv
import hashlib
import hmac
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Iterable, Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from recommender import serving
from recommender.models import ModelVersion, Recommendation
from shop.models import Category, Customer, Event, Order, OrderLine, Product

from .models import Campaign, CampaignRecipient, ExportLog

AFFINITY_EVENTS = (Event.Type.VIEW, Event.Type.ADD_TO_CART, Event.Type.PURCHASE)


def audience(campaign: Campaign):
    """The campaign's audience as a Customer queryset (every rule that is set must hold)."""
    customers = Customer.objects.filter(marketing_opt_in=True).exclude(email="")
    if campaign.affinity_category_id:
        category_ids = Category.objects.get(pk=campaign.affinity_category_id).descendant_ids()
        touched = Event.objects.filter(
            customer=OuterRef("pk"), type__in=AFFINITY_EVENTS, product__category_id__in=category_ids
        )
        bought = OrderLine.objects.filter(order__customer=OuterRef("pk"), product__category_id__in=category_ids)
        customers = customers.filter(Exists(touched) | Exists(bought))
    if campaign.inactive_days:
        cutoff = timezone.now() - timedelta(days=campaign.inactive_days)
        # Joined before the cutoff, and nothing recorded (no event, no order) since.
        customers = customers.filter(joined__lte=cutoff).exclude(
            Exists(Event.objects.filter(customer=OuterRef("pk"), timestamp__gte=cutoff))
        ).exclude(Exists(Order.objects.filter(customer=OuterRef("pk"), created__gte=cutoff)))
    if campaign.friends_bought_id:
        # A paid order line for the product whose buyer this customer follows.
        friend_bought = OrderLine.objects.filter(
            product_id=campaign.friends_bought_id,
            order__status=Order.Status.PAID,
            order__customer__follows_in__follower=OuterRef("pk"),
        )
        customers = customers.filter(Exists(friend_bought))
    if campaign.likely_buyers_of_id:
        # The model's top customers for the product (none without an active model).
        top = serving.top_customers_for_product(campaign.likely_buyers_of, campaign.likely_buyers_top)
        customers = customers.filter(pk__in=[customer.pk for customer, _ in top])
    if campaign.min_spent is not None:
        spent = (
            Order.objects.filter(customer=OuterRef("pk"), status=Order.Status.PAID)
            .values("customer").annotate(s=Sum("total")).values("s")
        )
        customers = customers.annotate(spent=Subquery(spent)).filter(spent__gt=campaign.min_spent)
    return customers.order_by("pk")


def scope_q(campaign: Campaign) -> Q:
    """Products in the campaign's scope (the union of its lists; none means everything)."""
    category_ids = set()
    for category in campaign.scope_categories.all():
        category_ids.update(category.descendant_ids())
    brand_ids = list(campaign.scope_brands.values_list("pk", flat=True))
    product_ids = list(campaign.scope_products.values_list("pk", flat=True))
    q = Q()
    if category_ids:
        q |= Q(category_id__in=category_ids)
    if brand_ids:
        q |= Q(brand_id__in=brand_ids)
    if product_ids:
        q |= Q(pk__in=product_ids)
    return q


def scope_label(campaign: Campaign) -> str:
    names = [str(x) for x in campaign.scope_categories.all()] + [str(x) for x in campaign.scope_brands.all()]
    return ", ".join(names) or "our catalogue"


@dataclass
class CampaignItem:
    product: Product
    source: str  # "model:<version>" or "popular"
    score: float | None = None
    reason: str = ""


@dataclass
class CustomerItems:
    customer: Customer
    items: list[CampaignItem]
    reason: str
    discount_code: str


def discount_code(campaign: Campaign, customer_id: int) -> str:
    """A per-customer code, the same on every export (an HMAC, not guessable from the ids)."""
    if not campaign.discount_percent:
        return ""
    message = f"{campaign.pk}:{customer_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:8].upper()
    return f"{campaign.discount_prefix}{campaign.discount_percent}-{digest}"


class ItemPicker:
    """Picks each customer's N items; built once per export, used chunk by chunk."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.n = campaign.items_per_customer
        self.scope = scope_q(campaign)
        self.version = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
        in_scope = Product.objects.filter(self.scope, active=True, stock__gt=0)
        self.popular = list(in_scope.order_by("-purchase_count", "-cart_count", "-view_count", "pk")[: self.n * 3])
        self.fallback_reason = f"Popular picks from {scope_label(campaign)}"

    def model_items(self, customer_ids: list[int]) -> dict[int, list[CampaignItem]]:
        """Each customer's first N in-scope recommendations. Only ids are read for the whole
        top-N; products and explanations are loaded for the picked rows alone."""
        picked: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        if self.version is None:
            return {}
        product_scope = Q(product__active=True, product__stock__gt=0)
        if self.scope:
            product_scope &= Q(product__in=Product.objects.filter(self.scope))
        rows = (
            Recommendation.objects.filter(product_scope, model_version=self.version, customer_id__in=customer_ids)
            .order_by("customer_id", "rank").values_list("pk", "customer_id", "product_id", "score")
        )
        for pk, customer_id, product_id, score in rows:
            if len(picked[customer_id]) < self.n:
                picked[customer_id].append((pk, product_id, score))
        chosen = [row for rows in picked.values() for row in rows]
        products = Product.objects.in_bulk([product_id for _, product_id, _ in chosen])
        texts = dict(
            Recommendation.objects.filter(pk__in=[pk for pk, _, _ in chosen]).values_list("pk", "explanation__text")
        )
        return {
            customer_id: [
                CampaignItem(products[product_id], self.version.label, score, texts.get(pk) or "")
                for pk, product_id, score in rows
            ]
            for customer_id, rows in picked.items()
        }

    def for_customers(self, customers: Iterable[Customer]) -> list[CustomerItems]:
        customers = list(customers)
        picked = self.model_items([c.pk for c in customers])
        result = []
        for customer in customers:
            items = picked.get(customer.pk, [])
            chosen = {item.product.pk for item in items}
            for product in self.popular:
                if len(items) >= self.n:
                    break
                if product.pk not in chosen:
                    items.append(CampaignItem(product, "popular"))
                    chosen.add(product.pk)
            reason = next((item.reason for item in items if item.reason), self.fallback_reason)
            result.append(CustomerItems(customer, items, reason, discount_code(self.campaign, customer.pk)))
        return result


def csv_header(n: int) -> list[str]:
    columns = ["email", "name"]
    for i in range(1, n + 1):
        columns += [f"item{i}_title", f"item{i}_url", f"item{i}_price", f"item{i}_image_url"]
    return columns + ["reason", "discount_code"]


def product_urls(product: Product, base_url: str, campaign: Campaign) -> tuple[str, str]:
    base = base_url.rstrip("/")
    return (
        f"{base}{product.get_absolute_url()}?utm_source=email&utm_campaign={campaign.widget_tag}",
        f"{base}/products/{product.pk}/image.svg",
    )


def csv_row(entry: CustomerItems, campaign: Campaign, base_url: str) -> list[str]:
    row = [entry.customer.email, entry.customer.display_name]
    for i in range(campaign.items_per_customer):
        if i < len(entry.items):
            product = entry.items[i].product
            url, image = product_urls(product, base_url, campaign)
            row += [product.title, url, f"{product.price:.2f}", image]
        else:
            row += ["", "", "", ""]
    return row + [entry.reason, entry.discount_code]


def csv_lines(campaign: Campaign, customer_ids: list[int], base_url: str, chunk: int = 500,
              on_chunk=None) -> Iterator[str]:
    """The CSV, line by line (for StreamingHttpResponse or a file); on_chunk(rows_done) after each chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(csv_header(campaign.items_per_customer))
    yield flush()
    picker = ItemPicker(campaign)
    for start in range(0, len(customer_ids), chunk):
        ids = customer_ids[start:start + chunk]
        customers = Customer.objects.filter(pk__in=ids).order_by("pk")
        for entry in picker.for_customers(customers):
            writer.writerow(csv_row(entry, campaign, base_url))
            yield flush()
        if on_chunk:
            on_chunk(start + len(ids))


@transaction.atomic
def record_export(campaign: Campaign, user, kind: str, customer_ids: list[int]) -> ExportLog:
    """Log the export and remember its recipients (the base of the campaign's performance)."""
    now = timezone.now()
    log = ExportLog.objects.create(user=user, campaign=campaign, kind=kind, rows=len(customer_ids), created=now)
    CampaignRecipient.objects.bulk_create(
        [CampaignRecipient(campaign=campaign, customer_id=pk, first_exported=now) for pk in customer_ids],
        ignore_conflicts=True,
        batch_size=1000,
    )
    if campaign.sent_at is None:
        Campaign.objects.filter(pk=campaign.pk, sent_at__isnull=True).update(sent_at=now)
        campaign.sent_at = now
    return log


@dataclass
class Performance:
    recipients: int
    clicks: int
    buyers: int
    orders: int
    revenue: Decimal


def performance(campaign: Campaign, window_days: int | None = None) -> Performance | None:
    """Since each recipient's first export, within the window: clicks on the campaign's links
    and paid order lines for products in its scope."""
    if campaign.sent_at is None:
        return None
    window = timedelta(days=window_days or settings.DASHBOARD_ATTRIBUTION_DAYS)
    first = dict(campaign.recipients.values_list("customer_id", "first_exported"))
    clicks = Event.objects.filter(
        type=Event.Type.REC_CLICK, widget=campaign.widget_tag, customer_id__in=first.keys()
    ).count()
    lines = OrderLine.objects.filter(
        order__status=Order.Status.PAID, order__customer_id__in=first.keys(), order__created__gte=campaign.sent_at,
    )
    scope = scope_q(campaign)
    if scope:
        lines = lines.filter(product__in=Product.objects.filter(scope))
    buyers, orders, revenue = set(), set(), Decimal("0.00")
    for customer_id, order_id, created, price, qty in lines.values_list(
        "order__customer_id", "order_id", "order__created", "unit_price", "quantity"
    ):
        if first[customer_id] <= created <= first[customer_id] + window:
            buyers.add(customer_id)
            orders.add(order_id)
            revenue += price * qty
    return Performance(len(first), clicks, len(buyers), len(orders), revenue)


def widget_html(campaign: Campaign, entry: CustomerItems, base_url: str) -> str:
    """The campaign's widget for one customer, as the email will show it (email-safe HTML)."""
    items = []
    for item in entry.items:
        url, image = product_urls(item.product, base_url, campaign)
        items.append({"product": item.product, "url": url, "image": image})
    return render_to_string("dashboard/email/widget.html", {
        "campaign": campaign, "customer": entry.customer, "items": items,
        "reason": entry.reason, "discount_code": entry.discount_code,
    })
