"""API serializers: events posted by apps and feeds, products read by anyone."""
from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from .models import Event, Product

# Event types that are about one product, and must name it.
PRODUCT_EVENTS = {
    Event.Type.VIEW, Event.Type.ADD_TO_CART, Event.Type.REMOVE_FROM_CART, Event.Type.PURCHASE,
    Event.Type.REVIEW, Event.Type.REC_IMPRESSION, Event.Type.REC_CLICK,
}
CLOCK_SKEW = timedelta(minutes=5)


class EventInSerializer(serializers.Serializer):
    """One posted event. Product and customer are ids; their existence is checked for the
    whole batch at once in the view (one query each, not one per item)."""

    type = serializers.ChoiceField(choices=Event.Type.choices)
    product = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    customer = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                        help_text="Defaults to the authenticated user's customer.")
    session_key = serializers.CharField(required=False, allow_blank=True, max_length=64)
    query = serializers.CharField(required=False, allow_blank=True, max_length=200)
    widget = serializers.CharField(required=False, allow_blank=True, max_length=40)
    model_version = serializers.CharField(required=False, allow_blank=True, max_length=40)
    timestamp = serializers.DateTimeField(required=False, help_text="ISO 8601; defaults to now.")
    metadata = serializers.DictField(required=False)

    def validate_timestamp(self, value):
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError("timestamp is in the future")
        return value

    def validate(self, data):
        if data["type"] in PRODUCT_EVENTS and not data.get("product"):
            raise serializers.ValidationError({"product": f"required for {data['type']} events"})
        if data["type"] == Event.Type.SEARCH and not data.get("query", "").strip():
            raise serializers.ValidationError({"query": "required for search events"})
        return data


class BatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class ErrorItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True)
    field = serializers.CharField()
    reason = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    errors = ErrorItemSerializer(many=True)


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "title", "description", "category", "brand", "price", "stock", "active", "created",
                  "url", "image_url", "view_count", "cart_count", "purchase_count"]

    def get_image_url(self, product) -> str:
        from django.urls import reverse

        path = reverse("shop:product_image", args=[product.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ProductFilterSerializer(serializers.Serializer):
    """Query parameters of GET /api/products/ (validated: a bad one is a 400 naming it)."""

    category = serializers.SlugField(required=False, help_text="Category slug (includes sub-categories).")
    brand = serializers.SlugField(required=False, help_text="Brand slug.")
    min_price = serializers.DecimalField(required=False, max_digits=10, decimal_places=2, min_value=0)
    max_price = serializers.DecimalField(required=False, max_digits=10, decimal_places=2, min_value=0)
    q = serializers.CharField(required=False, max_length=200, help_text="Search text, most relevant first.")

    def validate(self, data):
        if "min_price" in data and "max_price" in data and data["min_price"] > data["max_price"]:
            raise serializers.ValidationError({"max_price": "must be at least min_price"})
        return data
