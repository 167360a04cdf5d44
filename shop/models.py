"""The demo store's data: catalogue, customers and their social graph, carts, orders,
reviews, and the append-only Event log the recommender learns from."""
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    description = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category", args=[self.slug])

    def descendant_ids(self) -> list[int]:
        """This category and every category below it (the tree is shallow: a few queries)."""
        ids, frontier = [self.pk], [self.pk]
        while frontier:
            frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
            ids.extend(frontier)
        return ids


class Brand(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=140, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    stock = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)
    # Id in an imported data set (import_interactions); empty for products made here.
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # Counters bumped with F() expressions so concurrent requests never lose an update.
    view_count = models.PositiveIntegerField(default=0)
    cart_count = models.PositiveIntegerField(default=0)
    purchase_count = models.PositiveIntegerField(default=0)
    # Full-text document for search on PostgreSQL (title A, brand + category B, description C),
    # kept up to date by database triggers (migration 0002); always NULL on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created", "pk"]
        indexes = [
            models.Index(fields=["category", "active"]),
            models.Index(fields=["active", "price"]),
            models.Index(fields=["active", "-created"]),
            # Created only on PostgreSQL (see migration 0002); SQLite searches without it.
            GinIndex(fields=["search_vector"], name="product_search_gin"),
        ]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("shop:product", args=[self.pk])

    @property
    def popularity(self) -> int:
        # Oscar's weighting: views 1, basket additions 3, purchases 5.
        return self.view_count + 3 * self.cart_count + 5 * self.purchase_count

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer")
    display_name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    marketing_opt_in = models.BooleanField(default=False)
    joined = models.DateTimeField(default=timezone.now)
    external_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    following = models.ManyToManyField(
        "self", through="Follow", symmetrical=False, related_name="followers", through_fields=("follower", "followee")
    )

    class Meta:
        ordering = ["display_name", "pk"]
        indexes = [models.Index(fields=["marketing_opt_in"]), models.Index(fields=["joined"])]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("shop:customer", args=[self.pk])


class Follow(models.Model):
    follower = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follows_out")
    followee = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follows_in")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_unique"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee"])]

    def __str__(self) -> str:
        return f"{self.follower} → {self.followee}"


class Cart(models.Model):
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="carts")
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    checked_out = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Cart {self.pk}"

    @property
    def total(self) -> Decimal:
        return sum((line.subtotal for line in self.lines.select_related("product")), Decimal("0"))


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cartline_unique_product"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cartline_quantity_positive"),
        ]

    @property
    def subtotal(self) -> Decimal:
        return self.product.price * self.quantity


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    created = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PAID)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    payment_reference = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["customer", "-created"]), models.Index(fields=["created"])]

    def __str__(self) -> str:
        return f"Order {self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_quantity_positive")]

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


class Review(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="reviews")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    text = models.TextField(blank=True)
    # VADER compound score in [-1, 1], computed from the text when saved (shop.sentiment).
    sentiment = models.FloatField(default=0.0)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "product"], name="review_one_per_customer_product"),
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_5"),
        ]
        indexes = [models.Index(fields=["product", "created"])]

    def save(self, *args, **kwargs):
        from .sentiment import sentiment_of

        self.sentiment = sentiment_of(self.text)
        super().save(*args, **kwargs)


class Event(models.Model):
    """Append-only log of what happened; the recommender's training data and the dashboard's facts."""

    class Type(models.TextChoices):
        VIEW = "view", "View"
        ADD_TO_CART = "add_to_cart", "Add to cart"
        REMOVE_FROM_CART = "remove_from_cart", "Remove from cart"
        PURCHASE = "purchase", "Purchase"
        SEARCH = "search", "Search"
        REVIEW = "review", "Review"
        FOLLOW = "follow", "Follow"
        REC_IMPRESSION = "rec_impression", "Recommendation impression"
        REC_CLICK = "rec_click", "Recommendation click"

    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    session_key = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=20, choices=Type.choices)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    query = models.CharField(max_length=200, blank=True)
    widget = models.CharField(max_length=40, blank=True)
    # "model:<version id>" or the fallback's name, for rec_* events.
    model_version = models.CharField(max_length=40, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)
    metadata = models.JSONField(default=dict, blank=True)
    # Set by import_interactions so re-running an import never duplicates an event.
    import_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-timestamp", "-pk"]
        indexes = [
            models.Index(fields=["customer", "timestamp"]),
            models.Index(fields=["product", "type", "timestamp"]),
            models.Index(fields=["type", "timestamp"]),
            models.Index(fields=["session_key", "timestamp"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.product_id or self.query} @ {self.timestamp:%Y-%m-%d %H:%M}"
