"""The model's life in the app: versions, training runs, materialized recommendations, rules."""
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING, db_index=True)
    config = models.JSONField(default=dict, blank=True)
    # {"validation": {...}, "test": {...}} for the hybrid on the snapshot's split.
    metrics = models.JSONField(default=dict, blank=True)
    # {"pop": {...}, "itemknn": {...}, ...} on the same split.
    baseline_metrics = models.JSONField(default=dict, blank=True)
    # Per-epoch points: [{"epoch", "loss", "val_ndcg@10", ...}].
    history = models.JSONField(default=list, blank=True)
    artifact = models.FileField(upload_to="models/", blank=True)
    device = models.CharField(max_length=32, blank=True)
    train_seconds = models.FloatField(null=True, blank=True)
    snapshot_stats = models.JSONField(default=dict, blank=True)
    # Why this version was (not) activated, or why it failed.
    notes = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            # At most one active version: serving must never be ambiguous.
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_model_version"),
        ]

    def __str__(self) -> str:
        return f"v{self.pk} ({self.status})"

    @property
    def label(self) -> str:
        """The source label written into rec_* events and API responses."""
        return f"model:{self.pk}"

    @property
    def validation_ndcg10(self) -> float | None:
        return (self.metrics.get("validation") or {}).get("ndcg@10")


class TrainingRun(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"

    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)  # percent, 0-100
    epoch = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    # [{"epoch", "loss", "val_ndcg@10"}]: the training curve the admin and dashboard draw.
    curve = models.JSONField(default=list, blank=True)
    log_tail = models.TextField(blank=True)
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # True while queued or running, NULL after: the unique constraint below is the lock that
    # lets only one training run at a time, across processes and on every database.
    lock = models.BooleanField(null=True, blank=True, default=None, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["lock"], condition=Q(lock=True), name="one_training_at_a_time"),
        ]

    def __str__(self) -> str:
        return f"Training run {self.pk} ({self.state}, {self.progress:.0f}%)"

    @property
    def done(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED, self.State.REFUSED)


class Recommendation(models.Model):
    """The materialized top-N per customer for one model version."""

    customer = models.ForeignKey("shop.Customer", on_delete=models.CASCADE, related_name="recommendations")
    product = models.ForeignKey("shop.Product", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="recommendations")
    explanation = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["customer", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "customer", "rank"], name="recommendation_unique_rank"),
        ]
        indexes = [models.Index(fields=["customer", "model_version", "rank"])]


class MerchandisingRule(models.Model):
    class Action(models.TextChoices):
        PIN = "pin", "Pin (fixed position)"
        BOOST = "boost", "Boost"
        BURY = "bury", "Bury"
        EXCLUDE = "exclude", "Exclude"

    name = models.CharField(max_length=120)
    action = models.CharField(max_length=16, choices=Action.choices)
    # Exactly one target: a product, a brand or a category.
    product = models.ForeignKey("shop.Product", null=True, blank=True, on_delete=models.CASCADE)
    brand = models.ForeignKey("shop.Brand", null=True, blank=True, on_delete=models.CASCADE)
    category = models.ForeignKey("shop.Category", null=True, blank=True, on_delete=models.CASCADE)
    # Boost/bury: multiplier strength; pin: 1-based position in the list.
    strength = models.FloatField(default=1.0)
    position = models.PositiveIntegerField(default=1)
    widget = models.CharField(max_length=40, blank=True, help_text="Empty: every widget.")
    starts = models.DateTimeField(null=True, blank=True)
    ends = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(product__isnull=False, brand__isnull=True, category__isnull=True)
                    | Q(product__isnull=True, brand__isnull=False, category__isnull=True)
                    | Q(product__isnull=True, brand__isnull=True, category__isnull=False)
                ),
                name="rule_exactly_one_target",
            ),
            models.CheckConstraint(
                condition=Q(starts__isnull=True) | Q(ends__isnull=True) | Q(ends__gt=F("starts")),
                name="rule_ends_after_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.product or self.brand or self.category}"
