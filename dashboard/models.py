"""The dashboard's own data: campaigns, who received them, and the log of every export."""
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Campaign(models.Model):
    class WidgetStyle(models.TextChoices):
        EMAIL_BLOCK = "email_block", "Email block"
        CAROUSEL = "carousel", "Carousel"
        GRID = "grid", "Grid"

    name = models.CharField(max_length=120, unique=True)
    # Audience: every rule that is set must hold (AND); marketing opt-in is always required.
    affinity_category = models.ForeignKey(
        "shop.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Viewed, carted or bought in this category (or below it).",
    )
    inactive_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="No activity for at least this many days."
    )
    friends_bought = models.ForeignKey(
        "shop.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Someone they follow bought this product.",
    )
    likely_buyers_of = models.ForeignKey(
        "shop.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Among the customers the active model scores highest for this product.",
    )
    likely_buyers_top = models.PositiveIntegerField(
        default=100, validators=[MinValueValidator(1), MaxValueValidator(5000)],
        help_text="How many of the model's top customers for that product.",
    )
    min_spent = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)],
        help_text="Paid orders total more than this.",
    )
    # Product scope: the union of these; all empty means the whole catalogue.
    scope_categories = models.ManyToManyField("shop.Category", blank=True, related_name="+")
    scope_brands = models.ManyToManyField("shop.Brand", blank=True, related_name="+")
    scope_products = models.ManyToManyField("shop.Product", blank=True, related_name="+")
    items_per_customer = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    # Personalized discount: a percentage and a code unique to each customer.
    discount_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    discount_prefix = models.CharField(max_length=12, blank=True, default="GC")
    widget_style = models.CharField(max_length=16, choices=WidgetStyle.choices, default=WidgetStyle.EMAIL_BLOCK)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(default=timezone.now)
    # Set by the first export: the campaign counts as sent from then on.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(items_per_customer__gte=1), name="campaign_items_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("dashboard:campaign", args=[self.pk])

    @property
    def widget_tag(self) -> str:
        """The widget name carried by clicks on this campaign's links."""
        return f"campaign-{self.pk}"


class CampaignRecipient(models.Model):
    """A customer a campaign was exported for: the base of the campaign's performance."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("shop.Customer", on_delete=models.CASCADE, related_name="+")
    first_exported = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="recipient_once_per_campaign")]


class ExportLog(models.Model):
    class Kind(models.TextChoices):
        STREAM = "stream", "Streamed download"
        TASK = "task", "Background export"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    campaign = models.ForeignKey(Campaign, null=True, on_delete=models.SET_NULL, related_name="exports")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    rows = models.PositiveIntegerField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.campaign}: {self.rows} rows"


class ExportJob(models.Model):
    """A large audience exported by a Celery task (dashboard.tasks.export_campaign)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="export_jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    base_url = models.URLField(help_text="Absolute URLs in the CSV start with this.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/", blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]

    @property
    def progress(self) -> float:
        return 100.0 if self.state == self.State.DONE else (100.0 * self.done / self.total if self.total else 0.0)
